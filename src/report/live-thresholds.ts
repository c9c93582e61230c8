/**
 * abortOnFail thresholds while the run goes: a summary-like view of what the main thread holds
 * (the merged totals, latencies of the merged histograms), and the pure decision to stop. Only
 * paths scenario/thresholds.ts's LIVE_PATHS allows reach here.
 */
import type { Histogram } from 'hdr-histogram-js';
import type { Threshold } from '../scenario/thresholds.js';
import type { Totals } from '../record/totals.js';
import { latencyStats, type Metric } from '../record/histogram.js';
import { evaluateThresholds } from './thresholds.js';

/** The run's numbers so far under the paths summary.json gives them: totals, and each latency a threshold names. */
export function liveView(thresholds: readonly Threshold[], totals: Totals, histograms: Record<Metric, Histogram>): Record<string, unknown> {
  const view: Record<string, unknown> = { totals };
  for (const t of thresholds) {
    const [block] = t.path;
    if (block !== 'totals' && !(block in view)) view[block] = latencyStats(histograms[block.slice(0, -2) as Metric]);
  }
  return view;
}

export interface LiveFailure {
  expr: string;
  actual: number;
}

/**
 * The first abortOnFail threshold that fails on `view` once its delay has passed, `sinceStartMs`
 * after the schedule's start; null while they all hold. A latency nothing has measured yet (no
 * value) has not failed: the run goes on until there is a number to judge.
 */
export function abortDecision(thresholds: readonly Threshold[], view: unknown, sinceStartMs: number): LiveFailure | null {
  for (const t of thresholds) {
    if (!t.abortOnFail || sinceStartMs < (t.delayMs ?? 0)) continue;
    const [result] = evaluateThresholds([t], view);
    if (result.actual !== null && !result.ok) return { expr: t.expr, actual: result.actual };
  }
  return null;
}
