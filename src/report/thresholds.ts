/**
 * Thresholds: `<dot path into summary.json> <op> <number>[ms|s|m]`, e.g.
 * "totals.closeCodes.1011 == 0" or "handshakeMs.p99 < 500ms". Pure: parse, check the path is
 * one summary.json has, evaluate against a summary object.
 */
import { ERROR_KINDS } from '../record/attempt.js';

export type Op = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface Threshold {
  expr: string;
  path: string[];
  op: Op;
  value: number;
}

export interface ThresholdResult {
  expr: string;
  ok: boolean;
  actual: number | null;
}

const HISTOGRAM_FIELDS = '(count|min|mean|stddev|p50|p75|p90|p95|p99|p999|max)';
const HISTOGRAMS = '(handshakeMs|handshakeFailMs|tcpConnectMs|tlsHandshakeMs|upgradeMs|firstMessageMs|scheduleLagMs|serverCloseAfterMs|loopDelayMs)';
// Map keys are checked for their shape (a misspelt one would read 0 and pass for ever): close
// codes are four digits, statuses three, error kinds the closed list of ERROR_KINDS.
const CLOSE_CODE = '\\d{4}';
const COUNTS = `(attempted|opened|dropped|closeCodes\\.${CLOSE_CODE}|httpStatus\\.[1-5]\\d\\d|errors\\.(${ERROR_KINDS.join('|')}))`;

/**
 * Paths a threshold may name. A close code, status or error kind that never happened reads as 0.
 * Later features add their own blocks here.
 */
const BLOCK = `(totals|beforeReady|afterReady|phases\\.[A-Za-z0-9_-]+)`;
export const THRESHOLD_PATHS: RegExp[] = [
  new RegExp(`^${HISTOGRAMS}\\.${HISTOGRAM_FIELDS}$`),
  new RegExp(`^${BLOCK}\\.${COUNTS}$`),
  new RegExp(`^(beforeReady|afterReady|phases\\.[A-Za-z0-9_-]+)\\.handshakeMs\\.${HISTOGRAM_FIELDS}$`),
  /^ready\.(atMs|signals\.(health|log|supplied))$/,
  /^health\.(firstAnswerMs|first2xxMs|probes)$/,
  /^outage\.(firstSuccessMs|longestNoSuccessMs|longest503Ms)$/,
  new RegExp(`^steps\\.[A-Za-z0-9_-]+\\.(fromStartMs|fromOpenMs)\\.${HISTOGRAM_FIELDS}$`),
  new RegExp(`^steps\\.[A-Za-z0-9_-]+\\.(passed|timeouts|closed\\.${CLOSE_CODE})$`),
  new RegExp(`^clients\\.(timeToConnectedMs|byPhase\\.[A-Za-z0-9_-]+\\.timeToConnectedMs)\\.${HISTOGRAM_FIELDS}$`),
  /^clients\.(clients|connected|neverConnected|retries|attemptsPerClient\.(mean|max))$/,
  /^(durationMs)$/,
];

/** Paths whose absence in a summary means zero (counts in maps), not an error. */
const ZERO_WHEN_ABSENT = /(^|\.)(closeCodes|httpStatus|errors|closed)\.[^.]+$|(^|\.)(attempted|opened|dropped|passed|timeouts)$/;

// Hyphens too: default step names are expect-N and ping-N, phase names may have them.
const PARSE = /^\s*([A-Za-z0-9_.-]+)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/;

/** Parses a threshold or throws an Error whose message says what was expected. */
export function parseThreshold(expr: string): Threshold {
  const m = PARSE.exec(expr);
  if (!m) throw new Error(`expected "<path> <op> <number>" with op one of < <= > >= == != (e.g. "handshakeMs.p99 < 500"), found "${expr}"`);
  const [, path, op, num, unit] = m;
  if (!THRESHOLD_PATHS.some((re) => re.test(path))) {
    // A bad map key under a valid block (a misspelt block gets the general message below).
    const key = new RegExp(`^(?:${BLOCK}\\.(errors|closeCodes|httpStatus)|steps\\.[A-Za-z0-9_-]+\\.(closed))\\.([^.]+)$`).exec(path);
    if (key) {
      const map = (key[2] ?? key[3]) as 'errors' | 'closeCodes' | 'httpStatus' | 'closed'; // key[1] is BLOCK's own group
      const expected = { errors: `an error kind: ${ERROR_KINDS.join(', ')}`, closeCodes: 'a close code (four digits, e.g. 1011)', closed: 'a close code (four digits, e.g. 1011)', httpStatus: 'an HTTP status (e.g. 503)' }[map];
      throw new Error(`"${path}": "${key[4]}" is not ${expected}`);
    }
    throw new Error(
      `"${path}" is not a summary.json value a threshold can check (expected e.g. totals.closeCodes.1011, afterReady.httpStatus.503, phases.websocket.closeCodes.1011, handshakeMs.p99, ready.atMs, health.firstAnswerMs, outage.longest503Ms)`,
    );
  }
  const value = Number(num) * (unit === 'm' ? 60_000 : unit === 's' ? 1000 : 1);
  return { expr: expr.trim(), path: path.split('.'), op: op as Op, value };
}

function lookup(summary: unknown, path: string[]): number | null {
  let node: unknown = summary;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return null;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'number' ? node : null;
}

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
    let actual = lookup(summary, t.path);
    if (actual === null && ZERO_WHEN_ABSENT.test(t.path.join('.'))) actual = 0;
    return { expr: t.expr, ok: actual !== null && compare(actual, t.op, t.value), actual };
  });
}
