import type { Histogram } from 'hdr-histogram-js';
import { HlogWriter } from './hlog-writer.js';
import { METRICS, createHistogram, recordMs, type Metric } from './histogram.js';
import type { AttemptRecord } from './attempt.js';

/** The tag each metric has in latency.hlog and the name of its .hgrm file. */
export const METRIC_TAGS: Record<Metric, string> = {
  handshake: 'handshake',
  handshakeFail: 'handshake-fail',
  tcpConnect: 'tcp',
  tlsHandshake: 'tls',
  upgrade: 'upgrade',
  firstMessage: 'first-message',
  scheduleLag: 'schedule-lag',
  serverCloseAfter: 'server-close-after',
  loopDelay: 'loop-delay',
  messageRtt: 'message-rtt',
  messageSendLag: 'message-send-lag',
};

/** Phase names are free text from logs: keep hlog tags to characters every reader accepts. */
export function phaseTag(phase: string, metric: 'handshake' | 'message-rtt' = 'handshake'): string {
  return `${metric}.${phase.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/**
 * latency.hlog, written as the run goes. Every second each worker sends the histograms it
 * recorded since its previous tick, with the bounds it measured them over. One interval goes out
 * per round of ticks (every worker's, or as soon as one worker ticks again while another is late
 * or gone), spanning its workers' own bounds: never the time the ticks happened to reach the main
 * thread, so a late tick cannot move a second's handshakes into the next interval, and readers
 * that print a row per interval (HistogramLogProcessor) see one per second, not one per worker.
 * Adjacent intervals overlap by the workers' tick skew (milliseconds). The handshakes of each
 * startup phase (attributed at scheduled start with the timeline known at that moment) come from
 * the records a worker sent before its tick, and go out with it: the attempts that ended in it.
 */
export class IntervalLog {
  private readonly writer: HlogWriter;
  /** This round's histograms, by tag. */
  private readonly round = new Map<string, Histogram>();
  private readonly inRound = new Set<number>();
  private roundFrom = Infinity;
  private roundAt = -Infinity;
  /** Per worker: its per-phase handshakes since its last tick. */
  private readonly phases = new Map<number, Map<string, Histogram>>();
  private lastAt: number;
  private closed = false;

  constructor(
    path: string,
    private readonly t0: number,
    private readonly workers = 1,
  ) {
    this.writer = new HlogWriter(path, { startTimeMs: t0 });
    this.lastAt = t0;
  }

  private slot(byTag: Map<string, Histogram>, tag: string): Histogram {
    let h = byTag.get(tag);
    if (!h) byTag.set(tag, (h = createHistogram()));
    return h;
  }

  /** Per-phase handshakes, from finished attempts (before their worker's tick that carries them). */
  addRecord(r: AttemptRecord, phase: string): void {
    let byTag = this.phases.get(r.w);
    if (!byTag) this.phases.set(r.w, (byTag = new Map()));
    if (r.open !== null) recordMs(this.slot(byTag, phaseTag(phase)), r.open - r.sched);
  }

  /** A stream reply's round trip, by the phase its message was sent in (before its worker's tick). */
  addMessageRtt(worker: number, rttMs: number, phase: string): void {
    let byTag = this.phases.get(worker);
    if (!byTag) this.phases.set(worker, (byTag = new Map()));
    recordMs(this.slot(byTag, phaseTag(phase, 'message-rtt')), rttMs);
  }

  /** One worker's interval histograms (already decoded), measured over [from, at). */
  addInterval(worker: number, from: number, at: number, histograms: Partial<Record<Metric, Histogram>>): void {
    if (this.closed) return;
    if (this.inRound.has(worker)) this.flushRound(); // a round ahead: another worker is late or gone
    // A worker's first interval opens at its 'go', a moment before T0: the log starts at T0.
    const start = Math.max(from, this.t0);
    this.roundFrom = Math.min(this.roundFrom, start);
    this.roundAt = Math.max(this.roundAt, at, start);
    for (const metric of METRICS) {
      const h = histograms[metric];
      if (h && h.totalCount > 0) this.slot(this.round, METRIC_TAGS[metric]).add(h);
    }
    for (const [tag, h] of this.phases.get(worker) ?? []) {
      if (h.totalCount === 0) continue;
      this.slot(this.round, tag).add(h);
      h.reset();
    }
    this.inRound.add(worker);
    if (this.inRound.size >= this.workers) this.flushRound();
  }

  private flushRound(): void {
    if (this.inRound.size === 0) return;
    for (const [tag, h] of this.round) {
      if (h.totalCount === 0) continue;
      this.writer.append(tag, this.roundFrom, this.roundAt, h);
      h.reset();
    }
    this.lastAt = this.roundAt;
    this.inRound.clear();
    this.roundFrom = Infinity;
    this.roundAt = -Infinity;
  }

  /** Ends the log: the round in progress, then what arrived after the last tick (a worker that died), up to `now`. */
  close(now: number): void {
    if (this.closed) return;
    this.flushRound();
    const rest = new Map<string, Histogram>();
    for (const byTag of this.phases.values()) for (const [tag, h] of byTag) if (h.totalCount > 0) this.slot(rest, tag).add(h);
    for (const [tag, h] of rest) this.writer.append(tag, this.lastAt, Math.max(now, this.lastAt), h);
    this.closed = true;
    this.writer.close();
  }
}
