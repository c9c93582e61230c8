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

/** Evaluates thresholds against a summary. A missing count reads as 0; a missing metric fails. */
export function evaluateThresholds(thresholds: readonly Threshold[], summary: unknown): ThresholdResult[] {
  return thresholds.map((t) => {
    const found = valueAt(summary, t.path);
    let actual = typeof found === 'number' ? found : null;
    if (actual === null && ZERO_WHEN_ABSENT.test(pathShape(t.path))) actual = 0;
    return { expr: t.expr, ok: actual !== null && compare(actual, t.op, t.value), actual, ...(t.abortOnFail ? { abortOnFail: true as const } : {}) };
  });
}
