/**
 * Threshold expressions: `<dot path into summary.json> <op> <number>[ms|s|m]`, e.g.
 * "totals.closeCodes.1011 == 0" or "handshakeMs.p99 < 500ms". Parsed when the scenario loads, so
 * a misspelt path fails before anything runs; report/thresholds.ts evaluates them on a summary.
 */
import { DECIMAL, DURATION_UNITS, unitToMs, type DurationUnit } from '../util/duration.js';
import { ERROR_KINDS } from './error-kinds.js';

export type Op = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface Threshold {
  expr: string;
  path: string[];
  op: Op;
  value: number;
  /** Checked live while the run goes: once it fails the run stops (run/abort.ts). */
  abortOnFail?: true;
  /** With abortOnFail: ms after the schedule's start before it may stop the run. */
  delayMs?: number;
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
/** session.stream's blocks: the whole run's, each slice's, and the 2 s after readiness against later. */
const MESSAGE_BLOCK = `(messages|(beforeReady|afterReady|phases\\.[A-Za-z0-9_-]+)\\.messages|messages\\.(firstAfterReady|laterAfterReady))`;
const MESSAGE_COUNTS = `(sent|replied|late|lost|outOfOrder|duplicates|unmatched|serverGaps|serverMissing|lostByClose\\.${CLOSE_CODE})`;
export const THRESHOLD_PATHS: RegExp[] = [
  new RegExp(`^${HISTOGRAMS}\\.${HISTOGRAM_FIELDS}$`),
  new RegExp(`^${BLOCK}\\.${COUNTS}$`),
  new RegExp(`^(beforeReady|afterReady|phases\\.[A-Za-z0-9_-]+)\\.handshakeMs\\.${HISTOGRAM_FIELDS}$`),
  /^ready\.(atMs|signals\.(health|log|supplied))$/,
  /^health\.(firstAnswerMs|first2xxMs|probes)$/,
  /^outage\.(firstSuccessMs|longestNoSuccessMs|longest503Ms)$/,
  new RegExp(`^steps\\.[A-Za-z0-9_-]+\\.(fromStartMs|fromOpenMs)\\.${HISTOGRAM_FIELDS}$`),
  new RegExp(`^steps\\.[A-Za-z0-9_-]+\\.(passed|timeouts|closed\\.${CLOSE_CODE})$`),
  new RegExp(`^clients\\.(timeToConnectedMs|byPhase\\.[A-Za-z0-9_-]+\\.timeToConnectedMs|reconnectMs|outageMs|retryLagMs)\\.${HISTOGRAM_FIELDS}$`),
  /^clients\.(clients|connected|neverConnected|retries|attemptsPerClient\.(mean|max|p50|p90|p99)|dropped|drops|reconnected|neverBack|gaveUp\.(neverConnected|neverBack)|attemptsPerReconnect\.(mean|max|p50|p90|p99))$/,
  /^(durationMs)$/,
  new RegExp(`^${MESSAGE_BLOCK}\\.${MESSAGE_COUNTS}$`),
  new RegExp(`^${MESSAGE_BLOCK}\\.(rttMs|sendLagMs)\\.${HISTOGRAM_FIELDS}$`),
  new RegExp(`^disconnects(\\.phases\\.[A-Za-z0-9_-]+)?\\.(total|closeCodes\\.${CLOSE_CODE})$`),
];

/**
 * Paths an abortOnFail threshold may name: those the main thread holds exactly while the run goes
 * (the merged totals, and the latencies of the merged interval histograms). Phases, readiness,
 * clients and messages are attributed only after the run, from the finished files.
 */
export const LIVE_PATHS: RegExp[] = [new RegExp(`^totals\\.${COUNTS}$`), new RegExp(`^${HISTOGRAMS}\\.${HISTOGRAM_FIELDS}$`)];

/** Why a threshold cannot stop a run (its path is not known live), or null when it can. */
export function notLive(t: Threshold): string | null {
  const path = t.path.join('.');
  if (LIVE_PATHS.some((re) => re.test(pathShape(t.path)))) return null;
  return `abortOnFail: "${path}" is not known while the run goes (expected totals.<count>, e.g. totals.closeCodes.1011 or totals.httpStatus.503, or a latency like handshakeMs.p99; phases, readiness, clients and messages are attributed only after the run)`;
}

/** Whether a threshold reads session.stream's numbers (it then needs a stream, or serverSeq). */
export function readsMessages(t: Threshold): boolean {
  return t.path[0] === 'messages' || t.path.includes('messages');
}

// Hyphens too: default step names are expect-N and ping-N, phase names may have them. A name
// with other characters (a dot, above all) is quoted whole: phases."db.migrate".attempted.
const PARSE = new RegExp(`^\\s*((?:[A-Za-z0-9_.-]|"[^"]*"?)+)\\s*(<=|>=|==|!=|<|>)\\s*(-?${DECIMAL})\\s*(${DURATION_UNITS})?\\s*$`);
const NAME = /^[A-Za-z0-9_-]+$/;
/** Stands in for a quoted name with other characters when the path's shape is checked. */
const QUOTED_NAME = '_quoted_';

/** Parses a threshold or throws an Error whose message says what was expected. */
export function parseThreshold(expr: string): Threshold {
  const m = PARSE.exec(expr);
  if (!m) throw new Error(`expected "<path> <op> <number>" with op one of < <= > >= == != (e.g. "handshakeMs.p99 < 500"), found "${expr}"`);
  const [op, num, unit] = m.slice(2);
  const text = m[1].trimEnd(); // an open quote may take the spaces before the operator
  const path = text.includes('"') ? splitPath(text) : text.split('.');
  const shape = pathShape(path);
  if (!THRESHOLD_PATHS.some((re) => re.test(shape))) throw new Error(unknownPathMessage(shape, text, path[path.length - 1]));
  return { expr: expr.trim(), path, op: op as Op, value: unitToMs(Number(num), unit as DurationUnit | undefined) };
}

/**
 * A path's keys joined with dots for matching against the path patterns: a key that is no plain
 * name (a quoted "db.migrate") stands as one placeholder name, so its dots split nothing.
 */
export function pathShape(path: readonly string[]): string {
  return path.map((key) => (key === '' || NAME.test(key) ? key : QUOTED_NAME)).join('.');
}

/**
 * A threshold's path in keys: split at dots, except inside a quoted name ("db.migrate"), which
 * is one key without its quotes. Throws on a quote left open, an empty name or a quote inside one.
 */
export function splitPath(text: string): string[] {
  const keys: string[] = [];
  let at = 0;
  for (;;) {
    let key: string;
    if (text[at] === '"') {
      const close = text.indexOf('"', at + 1);
      if (close < 0) throw new Error(`"${text}": the quote at character ${at + 1} is never closed (quote a whole name: phases."db.migrate".attempted)`);
      key = text.slice(at + 1, close);
      at = close + 1;
      if (at < text.length && text[at] !== '.') throw new Error(`"${text}": a quoted name is a whole key, followed by a dot or the end (e.g. phases."db.migrate".attempted)`);
    } else {
      const dot = text.indexOf('.', at);
      key = text.slice(at, dot < 0 ? text.length : dot);
      at = dot < 0 ? text.length : dot;
      if (key.includes('"')) throw new Error(`"${text}": a quoted name is a whole key, after a dot or at the start (e.g. phases."db.migrate".attempted)`);
    }
    if (key === '') throw new Error(`"${text}": an empty key (expected names between the dots, e.g. phases."db.migrate".attempted)`);
    keys.push(key);
    if (at >= text.length) return keys;
    at += 1; // the dot
    if (at >= text.length) throw new Error(`"${text}": an empty key (expected names between the dots, e.g. phases."db.migrate".attempted)`);
  }
}

/** Why a path is not one a threshold can check: a bad map key under a valid block, else the general list. */
function unknownPathMessage(shape: string, path: string, last: string): string {
  const key = new RegExp(`^(?:${BLOCK}\\.(errors|closeCodes|httpStatus)|steps\\.[A-Za-z0-9_-]+\\.(closed))\\.([^.]+)$`).exec(shape);
  if (key) {
    const map = (key[2] ?? key[3]) as 'errors' | 'closeCodes' | 'httpStatus' | 'closed'; // key[1] is BLOCK's own group
    const expected = { errors: `an error kind: ${ERROR_KINDS.join(', ')}`, closeCodes: 'a close code (four digits, e.g. 1011)', closed: 'a close code (four digits, e.g. 1011)', httpStatus: 'an HTTP status (e.g. 503)' }[map];
    return `"${path}": "${last}" is not ${expected}`;
  }
  if (/^disconnects(\.phases\.[^.]+)?\.closeCodes\.[^.]+$/.test(shape)) return `"${path}": "${last}" is not a close code (four digits, e.g. 1006)`;
  return `"${path}" is not a summary.json value a threshold can check (expected e.g. totals.closeCodes.1011, afterReady.httpStatus.503, phases.websocket.closeCodes.1011, phases."db.migrate".attempted, handshakeMs.p99, ready.atMs, health.firstAnswerMs, outage.longest503Ms, disconnects.closeCodes.1006, clients.outageMs.p99, clients.neverBack)`;
}
