import type { MessageLine } from '../record/messages.js';
import type { MessagesOverTime } from './html/page-data.js';
import { round3 } from '../util/round.js';

/**
 * Round trips per time bucket are counted in log-spaced bins, each RTT_BIN_RATIO wide, from
 * 1 µs to one hour: a bucket's counts are a fixed small array however many messages it holds,
 * so a long run's messages.ndjson (millions of lines) is charted in bounded memory. A percentile
 * read from the bins is within half a bin (1%) of the exact value, and never outside the
 * bucket's exact minimum and maximum.
 */
export const RTT_BIN_RATIO = 1.02;
const RTT_MIN_MS = 0.001;
const LOG_RATIO = Math.log(RTT_BIN_RATIO);
export const RTT_BINS = Math.ceil(Math.log(3_600_000 / RTT_MIN_MS) / LOG_RATIO) + 1;

function binOf(ms: number): number {
  if (!(ms > RTT_MIN_MS)) return 0;
  return Math.min(RTT_BINS - 1, Math.floor(Math.log(ms / RTT_MIN_MS) / LOG_RATIO));
}

/** One time bucket: the fates of the messages sent in it, and their round trips in bins. */
class Bucket {
  sent = 0;
  lost = 0;
  late = 0;
  replies = 0;
  min = Infinity;
  max = -Infinity;
  private bins: Uint32Array | null = null;

  reply(rtt: number): void {
    const ms = rtt > 0 ? rtt : 0;
    (this.bins ??= new Uint32Array(RTT_BINS))[binOf(ms)]++;
    this.replies++;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  /** Nearest-rank percentile: the bin holding that rank, at its geometric middle, kept within [min, max]. */
  percentile(p: number): number | null {
    if (this.replies === 0 || !this.bins) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.replies));
    if (rank >= this.replies) return round3(this.max);
    let seen = 0;
    for (let i = 0; i < RTT_BINS; i++) {
      seen += this.bins[i];
      if (seen >= rank) return round3(Math.min(this.max, Math.max(this.min, RTT_MIN_MS * RTT_BIN_RATIO ** (i + 0.5))));
    }
    return round3(this.max);
  }
}

/**
 * Accumulates messages.ndjson lines into per-bucket series by send time: sent, lost, late, and
 * the round-trip p50/p99 of the replied and late ones. Replies and gaps that answered no message
 * are not charted. Pure (no I/O): `loadMessageSeries` feeds it the file; tests feed it arrays.
 */
export class MessageAccumulator {
  private readonly buckets = new Map<number, Bucket>();
  constructor(private readonly bucketMs: number) {}

  add(line: Pick<MessageLine, 'r' | 'sent' | 'rtt'>): void {
    if (line.sent === undefined || (line.r !== 'replied' && line.r !== 'late' && line.r !== 'lost')) return;
    const k = Math.floor(line.sent / this.bucketMs);
    let b = this.buckets.get(k);
    if (!b) this.buckets.set(k, (b = new Bucket()));
    b.sent++;
    if (line.r === 'lost') b.lost++;
    else {
      if (line.r === 'late') b.late++;
      if (line.rtt !== undefined) b.reply(line.rtt);
    }
  }

  /** Bucket numbers [first, last] that hold messages; null when none does. */
  span(): [number, number] | null {
    if (this.buckets.size === 0) return null;
    const keys = [...this.buckets.keys()];
    return [Math.min(...keys), Math.max(...keys)];
  }

  /** The series over the buckets `first`…`last` (bucket numbers), zeros and nulls where nothing was sent. */
  result(first: number, last: number): MessagesOverTime {
    const bucketS = this.bucketMs / 1000;
    const out: MessagesOverTime = { t: [], sent: [], lost: [], late: [], p50: [], p99: [] };
    for (let k = first; k <= last; k++) {
      const b = this.buckets.get(k);
      out.t.push(round3(k * bucketS));
      out.sent.push(b?.sent ?? 0);
      out.lost.push(b?.lost ?? 0);
      out.late.push(b?.late ?? 0);
      out.p50.push(b ? b.percentile(50) : null);
      out.p99.push(b ? b.percentile(99) : null);
    }
    return out;
  }
}

/** A messages.ndjson line as far as the charts read it. */
export function isMessageLine(line: unknown): line is MessageLine {
  return typeof (line as MessageLine | null)?.r === 'string';
}
