import type { Histogram } from 'hdr-histogram-js';
import { METRICS, latencyStats, type LatencyStats, type Metric } from '../record/histogram.js';
import type { Totals } from '../record/totals.js';
import { evaluateThresholds, type Threshold, type ThresholdResult } from './thresholds.js';

export const SUMMARY_SCHEMA = 'wsrace.summary/v1';

export interface WorkerReport {
  worker: number;
  scheduled: number;
  error: string | null;
}

export interface Summary {
  schema: typeof SUMMARY_SCHEMA;
  scenario: string;
  scenarioFile: string;
  target: { url: string; headers: Record<string, string>; subprotocols: string[] };
  startedAt: string;
  /** T0 (ISO): the target's launch, or the first scheduled attempt. */
  t0: string;
  durationMs: number;
  partial: boolean;
  /** Why the run was cut short, when it was. */
  interruptedBy: string | null;
  workers: WorkerReport[];
  schedule: { scheduled: number; durationMs: number; startAfterMs: number; peakRate: number };
  totals: Totals;
  handshakeMs: LatencyStats;
  handshakeFailMs: LatencyStats;
  tcpConnectMs: LatencyStats;
  upgradeMs: LatencyStats;
  firstMessageMs: LatencyStats;
  scheduleLagMs: LatencyStats;
  serverCloseAfterMs: LatencyStats;
  thresholds: ThresholdResult[];
  verdict: 'pass' | 'fail';
}

export type SummaryInput = Omit<Summary, 'schema' | 'thresholds' | 'verdict' | `${Metric}Ms`> & {
  histograms: Record<Metric, Histogram>;
  thresholdDefs: readonly Threshold[];
};

/** Assembles summary.json: stats read from merged histograms, thresholds evaluated on the result. */
export function buildSummary(input: SummaryInput): Summary {
  const { histograms, thresholdDefs, ...rest } = input;
  const stats = Object.fromEntries(METRICS.map((m) => [`${m}Ms`, latencyStats(histograms[m])])) as Record<`${Metric}Ms`, LatencyStats>;
  const partial: Omit<Summary, 'thresholds' | 'verdict'> = { schema: SUMMARY_SCHEMA, ...rest, ...stats };
  const thresholds = evaluateThresholds(thresholdDefs, partial);
  return { ...partial, thresholds, verdict: thresholds.every((t) => t.ok) ? 'pass' : 'fail' };
}
