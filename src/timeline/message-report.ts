import { existsSync } from 'node:fs';
import { eachNdjsonLine } from '../util/ndjson.js';
import type { Histogram } from 'hdr-histogram-js';
import { createHistogram, latencyStats, recordMs, type LatencyStats } from '../record/histogram.js';
import { addMessage, emptyMessageCounts, kindOf, mergeMessageCounts, MSG_LATE, MSG_LOST, MSG_REPLIED, type MessageCounts, type MessageLine } from '../record/messages.js';
import { phaseAt, phaseOrder, type PhaseTimeline } from './attribute.js';

/** Message counts, round trips and send lag of one slice of the run. */
export type MessageBlock = MessageCounts & { rttMs: LatencyStats; sendLagMs: LatencyStats };

/**
 * What a message's send lag is read from after the run: message k (seq k + 1) of a socket was due
 * at its open + k·every (MessageStream's schedule), so its lag is its send time minus that, from
 * messages.ndjson's `sent` and `seq` and events.ndjson's `open`, without a field per message.
 */
export interface SendLagSource {
  everyMs: number;
  /** The open time (ms since T0) of attempt `i` (of `shard`, in a merged run), undefined if it is not known. */
  openOf(i: number, shard?: number): number | undefined;
}

/** How long after readiness counts as "right after it" in the findings and `messages.firstAfterReady`. */
export const AFTER_READY_WINDOW_MS = 2000;

export interface MessageAttribution {
  /** By the phase in effect when each message was sent (a reply or gap that answered none: when it came). */
  phases: Record<string, MessageBlock>;
  beforeReady: MessageBlock;
  afterReady: MessageBlock;
  /** The first AFTER_READY_WINDOW_MS after readiness, and the rest of the run after it; null without readiness. */
  firstAfterReady: MessageBlock | null;
  laterAfterReady: MessageBlock | null;
}

interface Acc {
  counts: MessageCounts;
  rtt: Histogram;
  lag: Histogram;
}

const acc = (): Acc => ({ counts: emptyMessageCounts(), rtt: createHistogram(), lag: createHistogram() });

const block = (a: Acc): MessageBlock => ({ ...mergeMessageCounts(emptyMessageCounts(), a.counts), rttMs: latencyStats(a.rtt), sendLagMs: latencyStats(a.lag) });

/** A sent message's lag behind its due time (ms), or null when it cannot be told (no seq, no open). */
export function sendLagOf(line: MessageLine, source: SendLagSource | null): number | null {
  if (source === null || line.sent === undefined || line.seq === undefined) return null;
  const open = source.openOf(line.i, line.shard);
  if (open === undefined) return null;
  // Both times are rounded to 3 decimals in the files: a send on time may read a µs early.
  return Math.max(0, line.sent - open - (line.seq - 1) * source.everyMs);
}

/** Sums messages.ndjson's lines by phase and around readiness. Pure over its inputs. */
export class MessageAttributor {
  private readonly byPhase = new Map<string, Acc>();
  private readonly before = acc();
  private readonly after = acc();
  private readonly first = acc();
  private readonly later = acc();

  constructor(
    private readonly timeline: PhaseTimeline,
    private readonly lagSource: SendLagSource | null = null,
  ) {
    for (const phase of phaseOrder(timeline)) this.byPhase.set(phase, acc());
  }

  /** Counts one line; returns its phase. */
  add(line: MessageLine): string {
    const at = line.sent ?? line.at ?? 0;
    const phase = phaseAt(this.timeline, at);
    let slot = this.byPhase.get(phase);
    if (!slot) this.byPhase.set(phase, (slot = acc()));
    const ready = this.timeline.readyAtMs;
    const slots = [slot, ready !== null && at >= ready ? this.after : this.before];
    if (ready !== null && at >= ready) slots.push(at < ready + AFTER_READY_WINDOW_MS ? this.first : this.later);
    const kind = kindOf(line);
    const lag = kind === MSG_REPLIED || kind === MSG_LATE || kind === MSG_LOST ? sendLagOf(line, this.lagSource) : null;
    for (const a of slots) {
      addMessage(a.counts, kind, line.code ?? line.missing ?? 0, line.ooo ? 1 : 0);
      if ((kind === MSG_REPLIED || kind === MSG_LATE) && line.rtt !== undefined) recordMs(a.rtt, line.rtt);
      if (lag !== null) recordMs(a.lag, lag);
    }
    return phase;
  }

  /** Phases in timeline order; phases no message fell into are left out. */
  result(): MessageAttribution {
    const phases: Record<string, MessageBlock> = {};
    for (const [phase, a] of this.byPhase) if (a.counts.sent + a.counts.duplicates + a.counts.unmatched + a.counts.serverGaps > 0) phases[phase] = block(a);
    const ready = this.timeline.readyAtMs !== null;
    return { phases, beforeReady: block(this.before), afterReady: block(this.after), firstAfterReady: ready ? block(this.first) : null, laterAfterReady: ready ? block(this.later) : null };
  }
}

/**
 * Attributes every line of messages.ndjson (a long stream makes it large, so it is streamed);
 * with `rewrite`, each line gets its `phase`. Null when the run wrote no such file (no stream).
 * With `sendLag` (the attempts' open times, gathered in the events.ndjson pass) each block has its send lag.
 */
export async function attributeMessagesFile(path: string, timeline: PhaseTimeline, options: { rewrite?: boolean; sendLag?: SendLagSource | null } = {}): Promise<MessageAttribution | null> {
  if (!existsSync(path)) return null;
  const attributor = new MessageAttributor(timeline, options.sendLag ?? null);
  await eachNdjsonLine<MessageLine>(path, (line) => (line.phase = attributor.add(line)), options);
  return attributor.result();
}

/** Merged runs made before retries were numbered by their global stripe reuse an `i` across shards: the shard tells them apart. */
const MAX_SHARDS = 1024;
const openKey = (i: number, shard = 0) => i * MAX_SHARDS + shard;

/**
 * Each streaming attempt's open time, fed the events.ndjson lines in the pass that attributes
 * them (attributeEventsFile's `visit`), for the send lag of its messages: one map entry per
 * socket that sent messages (~50 B each: 20 MB for 400,000 sockets).
 */
export class OpenTimes implements SendLagSource {
  private readonly opens = new Map<number, number>();

  constructor(readonly everyMs: number) {}

  add(e: { i: number; open: number | null; shard?: number; msgs?: { sent: number } }): void {
    if (e.open !== null && e.msgs !== undefined && e.msgs.sent > 0) this.opens.set(openKey(e.i, e.shard), e.open);
  }

  openOf(i: number, shard?: number): number | undefined {
    return this.opens.get(openKey(i, shard));
  }
}
