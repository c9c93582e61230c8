import type { Histogram } from 'hdr-histogram-js';
import { HlogWriter } from '../report/hlog.js';
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
};

/** Phase names are free text from logs: keep hlog tags to characters every reader accepts. */
export function phaseTag(phase: string): string {
  return `handshake.${phase.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/**
 * latency.hlog, written as the run goes. Each worker's interval histograms are appended with the
 * bounds that worker measured them over ([its previous tick, this tick), about a second), never
 * with the time they happened to reach the main thread: a tick that arrives late must not move a
 * second's handshakes into the next interval. With N workers there are N intervals per tag per
 * second, as in a merged log; HistogramLogProcessor adds them up by time. The handshakes of each
 * startup phase (attributed at scheduled start with the timeline known at that moment) come from
 * the records a worker sent since its previous tick, and go out with that worker's interval: they
 * are the attempts that ended in it.
 */
export class IntervalLog {
  private readonly writer: HlogWriter;
  /** Per worker: its per-phase handshakes since its last interval. */
  private readonly phases = new Map<number, Map<string, Histogram>>();
  /** Per worker: the end of its last interval, where its next one starts. */
  private readonly lastAt = new Map<number, number>();
  private closed = false;

  constructor(
    path: string,
    private readonly t0: number,
  ) {
    this.writer = new HlogWriter(path, { startTimeMs: t0 });
  }

  private phaseSlot(worker: number, tag: string): Histogram {
    let byTag = this.phases.get(worker);
    if (!byTag) this.phases.set(worker, (byTag = new Map()));
    let h = byTag.get(tag);
    if (!h) byTag.set(tag, (h = createHistogram()));
    return h;
  }

  /** Per-phase handshakes, from finished attempts (before their worker's interval that carries them). */
  addRecord(r: AttemptRecord, phase: string): void {
    if (r.open !== null) recordMs(this.phaseSlot(r.w, phaseTag(phase)), r.open - r.sched);
  }

  /** One worker's interval histograms (already decoded), measured over [from, at). */
  addInterval(worker: number, from: number, at: number, histograms: Partial<Record<Metric, Histogram>>): void {
    if (this.closed) return;
    // A worker's first interval opens at its 'go', a moment before T0: the log starts at T0.
    const start = Math.max(from, this.t0);
    const end = Math.max(at, start);
    for (const metric of METRICS) {
      const h = histograms[metric];
      if (h && h.totalCount > 0) this.writer.append(METRIC_TAGS[metric], start, end, h);
    }
    this.appendPhases(worker, start, end);
    this.lastAt.set(worker, end);
  }

  private appendPhases(worker: number, start: number, end: number): void {
    for (const [tag, h] of this.phases.get(worker) ?? []) {
      if (h.totalCount === 0) continue;
      this.writer.append(tag, start, end, h);
      h.reset();
    }
  }

  /** Ends the log: what a worker sent after its last interval (a worker that died) goes out up to `now`. */
  close(now: number): void {
    if (this.closed) return;
    for (const worker of this.phases.keys()) {
      const start = this.lastAt.get(worker) ?? this.t0;
      this.appendPhases(worker, start, Math.max(now, start));
    }
    this.closed = true;
    this.writer.close();
  }
}
