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

/** The clients' times measured per comeback (after a drop) or per retry, and the count that says none was due. */
const NOTHING_DUE: [RegExp, string[]][] = [
  [/^clients\.(reconnectMs|outageMs)\.[^.]+$/, ['clients', 'dropped']],
  [/^clients\.retryLagMs\.[^.]+$/, ['clients', 'retries']],
];

/**
 * An upper bound on a per-drop time holds when nothing dropped (or, for the retries' lag, nothing
 * was retried): `clients.outageMs.p99 < 3000` passes a deploy no client felt. Clients dropped and
 * none back also leave the histogram empty: that fails, as a missing value does.
 */
function holdsWithNothingMeasured(t: Threshold, summary: unknown): boolean {
  if (t.op !== '<' && t.op !== '<=') return false;
  const due = NOTHING_DUE.find(([shape]) => shape.test(t.path.join('.')));
  return due !== undefined && valueAt(summary, due[1]) === 0;
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
