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
 * latency.hlog, written as the run goes: every second the histograms that arrived from the
 * workers in that second are appended as one interval per metric, plus the handshakes of each
 * startup phase (attributed at scheduled start with the timeline known at that moment).
 */
export class IntervalLog {
  private readonly writer: HlogWriter;
  private readonly pending = new Map<string, Histogram>();
  private from: number;

  constructor(path: string, t0: number) {
    this.writer = new HlogWriter(path, { startTimeMs: t0 });
    this.from = t0;
  }

  private slot(tag: string): Histogram {
    let h = this.pending.get(tag);
    if (!h) this.pending.set(tag, (h = createHistogram()));
    return h;
  }

  /** One worker's interval histograms (already decoded). */
  addInterval(histograms: Partial<Record<Metric, Histogram>>): void {
    for (const metric of METRICS) {
      const h = histograms[metric];
      if (h && h.totalCount > 0) this.slot(METRIC_TAGS[metric]).add(h);
    }
  }

  /** Per-phase handshakes, from finished attempts. */
  addRecord(r: AttemptRecord, phase: string): void {
    if (r.open !== null) recordMs(this.slot(phaseTag(phase)), r.open - r.sched);
  }

  /** Appends everything pending as the interval [last flush, now). */
  flush(now: number): void {
    if (this.closed) return;
    for (const [tag, h] of this.pending) {
      if (h.totalCount === 0) continue;
      this.writer.append(tag, this.from, now, h);
      h.reset();
    }
    this.from = now;
  }

  private closed = false;

  close(now: number): void {
    if (this.closed) return;
    this.flush(now);
    this.closed = true;
    this.writer.close();
  }
}
