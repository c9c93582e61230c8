import type { Histogram } from 'hdr-histogram-js';
import { now } from '../util/clock.js';
import type { Threshold } from '../scenario/thresholds.js';
import type { Totals } from '../record/totals.js';
import type { Metric } from '../record/histogram.js';
import { abortDecision, liveView, type LiveFailure } from '../report/live-thresholds.js';

/** An abortOnFail threshold that failed while the run went, and when (ms after T0). */
export interface Aborted extends LiveFailure {
  atMs: number;
}

/** The console line for it. */
export function abortedLine(a: Aborted): string {
  return `aborted: threshold \`${a.expr}\` failed at +${(a.atMs / 1000).toFixed(1)} s (actual ${a.actual})`;
}

/**
 * Checks the scenario's abortOnFail thresholds against the merged state each time a worker's
 * one-second report has been merged in, and calls `onFail` once, for the first that fails.
 */
export class AbortWatch {
  private readonly thresholds: Threshold[];
  private fired = false;
  /** Epoch ms of T0 and of the schedule's start (delays count from it); null until the run begins. */
  private clock: { t0: number; scheduleStart: number } | null = null;

  constructor(
    thresholds: readonly Threshold[],
    private readonly totals: Totals,
    private readonly histograms: Record<Metric, Histogram>,
    private readonly onFail: (a: Aborted) => void,
  ) {
    this.thresholds = thresholds.filter((t) => t.abortOnFail);
  }

  /** Whether the scenario has any abortOnFail threshold. */
  get active(): boolean {
    return this.thresholds.length > 0;
  }

  begin(t0: number, scheduleStart: number): void {
    this.clock = { t0, scheduleStart };
  }

  check(): void {
    if (this.fired || this.clock === null || this.thresholds.length === 0) return;
    const at = now();
    const failure = abortDecision(this.thresholds, liveView(this.thresholds, this.totals, this.histograms), at - this.clock.scheduleStart);
    if (failure === null) return;
    this.fired = true;
    this.onFail({ ...failure, atMs: at - this.clock.t0 });
  }
}
