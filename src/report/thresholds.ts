/**
 * Threshold evaluation: each parsed threshold (scenario/thresholds.ts) read against a summary.
 * Pure.
 */
import { pathShape, type Op, type Threshold } from '../scenario/thresholds.js';
import { valueAt } from '../util/key-path.js';

export interface ThresholdResult {
  expr: string;
  ok: boolean;
  actual: number | null;
  /** The threshold was checked live and would stop the run (absent when not). */
  abortOnFail?: true;
}

/** Paths whose absence in a summary means zero (counts in maps), not an error. */
const ZERO_WHEN_ABSENT = /(^|\.)(closeCodes|httpStatus|errors|closed|lostByClose)\.[^.]+$|(^|\.)(attempted|opened|dropped|passed|timeouts)$|(^|\.)messages\.(sent|replied|late|lost|outOfOrder|duplicates|unmatched|serverGaps|serverMissing)$|^disconnects(\.phases\.[^.]+)?\.total$/;

function compare(actual: number, op: Op, value: number): boolean {
  switch (op) {
    case '<': return actual < value;
    case '<=': return actual <= value;
    case '>': return actual > value;
    case '>=': return actual >= value;
    case '==': return actual === value;
    case '!=': return actual !== value;
  }
}

/** The clients' times measured once per drop or retry: with none of them, there is nothing to measure. */
const PER_DROP = /^clients\.(reconnectMs|outageMs|retryLagMs)\.[^.]+$/;

/**
 * An upper bound on a per-drop time holds when nothing dropped: `clients.outageMs.p99 < 3000`
 * passes a deploy no client felt (its histogram counted nothing; actual stays null).
 */
function holdsWithNothingMeasured(t: Threshold, summary: unknown): boolean {
  if ((t.op !== '<' && t.op !== '<=') || !PER_DROP.test(t.path.join('.'))) return false;
  return valueAt(summary, [...t.path.slice(0, -1), 'count']) === 0;
}

/** Evaluates thresholds against a summary. A missing count reads as 0; a missing metric fails (but see holdsWithNothingMeasured). */
export function evaluateThresholds(thresholds: readonly Threshold[], summary: unknown): ThresholdResult[] {
  return thresholds.map((t) => {
    const found = valueAt(summary, t.path);
    let actual = typeof found === 'number' ? found : null;
    if (actual === null && ZERO_WHEN_ABSENT.test(pathShape(t.path))) actual = 0;
    const ok = actual !== null ? compare(actual, t.op, t.value) : holdsWithNothingMeasured(t, summary);
    return { expr: t.expr, ok, actual, ...(t.abortOnFail ? { abortOnFail: true as const } : {}) };
  });
}
