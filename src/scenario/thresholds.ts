/**
 * Threshold expressions: `<dot path into summary.json> <op> <number>[ms|s|m]`, e.g.
 * "totals.closeCodes.1011 == 0" or "handshakeMs.p99 < 500ms". Parsed when the scenario loads, so
 * a misspelt path fails before anything runs; report/thresholds.ts evaluates them on a summary.
 */
import { DURATION_UNITS, unitToMs, type DurationUnit } from '../util/duration.js';
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
  new RegExp(`^clients\\.(timeToConnectedMs|byPhase\\.[A-Za-z0-9_-]+\\.timeToConnectedMs|reconnectMs|outageMs)\\.${HISTOGRAM_FIELDS}$`),
  /^clients\.(clients|connected|neverConnected|retries|attemptsPerClient\.(mean|max)|dropped|drops|reconnected|neverBack|attemptsPerReconnect\.(mean|max))$/,
  /^(durationMs)$/,
  new RegExp(`^${MESSAGE_BLOCK}\\.${MESSAGE_COUNTS}$`),
  new RegExp(`^${MESSAGE_BLOCK}\\.rttMs\\.${HISTOGRAM_FIELDS}$`),
  new RegExp(`^messages\\.sendLagMs\\.${HISTOGRAM_FIELDS}$`),
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
  if (LIVE_PATHS.some((re) => re.test(path))) return null;
  return `abortOnFail: "${path}" is not known while the run goes (expected totals.<count>, e.g. totals.closeCodes.1011 or totals.httpStatus.503, or a latency like handshakeMs.p99; phases, readiness, clients and messages are attributed only after the run)`;
}

/** Whether a threshold reads session.stream's numbers (it then needs a stream, or serverSeq). */
export function readsMessages(t: Threshold): boolean {
  return t.path[0] === 'messages' || t.path.includes('messages');
}

// Hyphens too: default step names are expect-N and ping-N, phase names may have them.
const PARSE = new RegExp(`^\\s*([A-Za-z0-9_.-]+)\\s*(<=|>=|==|!=|<|>)\\s*(-?\\d+(?:\\.\\d+)?)\\s*(${DURATION_UNITS})?\\s*$`);

/** Parses a threshold or throws an Error whose message says what was expected. */
export function parseThreshold(expr: string): Threshold {
  const m = PARSE.exec(expr);
  if (!m) throw new Error(`expected "<path> <op> <number>" with op one of < <= > >= == != (e.g. "handshakeMs.p99 < 500"), found "${expr}"`);
  const [, path, op, num, unit] = m;
  if (!THRESHOLD_PATHS.some((re) => re.test(path))) throw new Error(unknownPathMessage(path));
  return { expr: expr.trim(), path: path.split('.'), op: op as Op, value: unitToMs(Number(num), unit as DurationUnit | undefined) };
}

/** Why a path is not one a threshold can check: a bad map key under a valid block, else the general list. */
function unknownPathMessage(path: string): string {
  const key = new RegExp(`^(?:${BLOCK}\\.(errors|closeCodes|httpStatus)|steps\\.[A-Za-z0-9_-]+\\.(closed))\\.([^.]+)$`).exec(path);
  if (key) {
    const map = (key[2] ?? key[3]) as 'errors' | 'closeCodes' | 'httpStatus' | 'closed'; // key[1] is BLOCK's own group
    const expected = { errors: `an error kind: ${ERROR_KINDS.join(', ')}`, closeCodes: 'a close code (four digits, e.g. 1011)', closed: 'a close code (four digits, e.g. 1011)', httpStatus: 'an HTTP status (e.g. 503)' }[map];
    return `"${path}": "${key[4]}" is not ${expected}`;
  }
  return `"${path}" is not a summary.json value a threshold can check (expected e.g. totals.closeCodes.1011, afterReady.httpStatus.503, phases.websocket.closeCodes.1011, handshakeMs.p99, ready.atMs, health.firstAnswerMs, outage.longest503Ms)`;
}
