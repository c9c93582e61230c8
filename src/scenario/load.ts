import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import { wsraceBin } from '../util/self.js';
import { formatPath, valueAt } from '../util/key-path.js';
import { describeIssue, unknownKeysPhrase, type IssueWording } from '../util/zod-issues.js';
import { peakRate } from '../schedule/arrival.js';
import { InputError } from './errors.js';
import { interpolateEnv } from './interpolate.js';
import { applySet } from './overrides.js';
import { scenarioSchema, type Scenario } from './schema.js';
import { notLive, parseThreshold, readsMessages, type Threshold } from './thresholds.js';
import { stepName } from './step-names.js';
import { checkTargetAllowed } from './safety.js';
import { stagesOf } from './stages.js';
import { scheduleDurationMs } from '../schedule/arrival.js';

export interface ScenarioOverrides {
  /** `--set path=value`, applied before validation. */
  set?: string[];
  /** `--target URL`. */
  target?: string;
  /** `--workers N`. */
  workers?: number;
  /** `--yes-really-target HOST`: added to target.allowHosts. */
  allowHosts?: string[];
  /** `--local-address`: replaces target.localAddresses. */
  localAddresses?: string[];
}

export interface LoadedScenario {
  scenario: Scenario;
  thresholds: Threshold[];
  /** Where it came from, for messages and the report. */
  file: string;
  /** Values of secret-named variables (${STAGING_TOKEN} …) interpolated into it: redacted everywhere in reports. */
  secrets: string[];
}

/** Reads, interpolates, overrides and validates a scenario file; throws InputError naming file, key and line. */
export function loadScenarioFile(file: string, overrides: ScenarioOverrides = {}, env: NodeJS.ProcessEnv = process.env): LoadedScenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`${file}: cannot read the scenario (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseScenarioText(text, file, overrides, env);
}

/** Same as loadScenarioFile, from text already in memory (tests, `--scenario -`). */
export function parseScenarioText(text: string, file: string, overrides: ScenarioOverrides = {}, env: NodeJS.ProcessEnv = process.env): LoadedScenario {
  const { doc, lines } = parseText(text, file);
  const data = scenarioMap(doc, file);
  const flags = applyOverrides(data, overrides);
  // Where a key's value came from: the flag that set it, else its line in the file (with `key`:
  // the line of that key under `path`, for unknown keys).
  const located: Locate = (path, key) => {
    const flag = flagAt(flags, key === undefined ? path : [...path, key]);
    if (flag) return `${file} (${flag})`;
    return key === undefined ? where(file, doc, lines, path) : keyWhere(file, doc, lines, path, key);
  };
  const secrets = new Set<string>();
  const scenario = validate(interpolateEnv(data, { WSRACE: wsraceCommand(), ...env }, file, [], secrets), located);
  scenario.target.allowHosts.push(...(overrides.allowHosts ?? []));
  checkCoherence(scenario, located);
  checkTargetAllowed(scenario.target.url, peakRateOf(scenario), scenario.target.allowHosts, flagAt(flags, ['target', 'url']) ? located(['target', 'url']) : file);
  const steps = stepNames(scenario, located);
  const streams = scenario.session.stream !== undefined || scenario.session.serverSeq !== undefined;
  const clients = scenario.load.population !== undefined || scenario.session.reconnect !== undefined;
  const thresholds = scenario.thresholds.map((entry, i) => thresholdAt(entry, i, typeof valueAt(data, ['thresholds', i]) !== 'string', { steps, located, streams, clients }));
  return { scenario, thresholds, file, secrets: [...secrets] };
}

/** The text as a YAML document with line numbers; a syntax error names its line and column. */
function parseText(text: string, file: string): { doc: Document; lines: LineCounter } {
  const lines = new LineCounter();
  // YAML 1.2 is a superset of JSON, so one parser serves both and reports lines for both.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0] ?? lines.linePos(Math.min(e.pos[0], text.length));
    throw new InputError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${e.message.split('\n')[0]}`);
  }
  // YAML would take JSON with trailing commas or comments: a .json file must be JSON.
  if (extname(file).toLowerCase() === '.json') {
    try {
      JSON.parse(text.replace(/^\uFEFF/, '')); // a byte-order mark, as YAML's parser allows
    } catch (err) {
      const message = (err as Error).message;
      const at = /position (\d+)/.exec(message);
      const pos = at ? lines.linePos(Number(at[1])) : undefined;
      throw new InputError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}`);
    }
  }
  return { doc, lines };
}

/** The document's top-level map as plain data, named after the file unless it names itself. */
function scenarioMap(doc: Document, file: string): Record<string, unknown> {
  const raw = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InputError(`${file}: expected a scenario (a map with target, load, session, thresholds), found ${raw === null ? 'an empty file' : typeof raw}`);
  }
  const data = raw as Record<string, unknown>;
  data.name ??= basename(file, extname(file));
  return data;
}

/** Applies the command line's values to the data; returns which flag set which key path. */
function applyOverrides(data: Record<string, unknown>, overrides: ScenarioOverrides): FlagValue[] {
  // Values from the command line: an error in one names the flag, not a line of the file.
  const flags: FlagValue[] = [];
  for (const assignment of overrides.set ?? []) {
    const created = applySet(data, assignment);
    flags.push({ path: created, flag: `--set ${assignment}` });
  }
  if (overrides.target !== undefined) flags.push({ path: ['target', 'url'], flag: `--target ${overrides.target}` });
  if (overrides.workers !== undefined) flags.push({ path: ['workers'], flag: `--workers ${overrides.workers}` });
  if (overrides.localAddresses !== undefined) flags.push({ path: ['target', 'localAddresses'], flag: `--local-address ${overrides.localAddresses.join(' ')}` });
  if (overrides.target !== undefined) {
    data.target ??= {};
    (data.target as Record<string, unknown>).url = overrides.target;
  }
  if (overrides.workers !== undefined) data.workers = overrides.workers;
  if (overrides.localAddresses !== undefined) {
    data.target ??= {};
    (data.target as Record<string, unknown>).localAddresses = overrides.localAddresses;
  }
  return flags;
}

/** The schema's verdict: the scenario, or an InputError with one line per problem. */
function validate(data: unknown, located: Locate): Scenario {
  const parsed = scenarioSchema.safeParse(data);
  if (parsed.success) return parsed.data;
  // Unknown keys first: a typo usually explains the "missing key" errors that follow it.
  const issues = [...parsed.error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
  const wording: IssueWording = {
    at: (path) => `${located(path)}: ${formatPath(path)}`,
    unknownKeys: ({ path, keys }) => {
      const known = Object.keys((valueAt(data, path) as object) ?? {}).filter((k) => !keys.includes(k));
      return `${located(path, keys[0])}: ${formatPath([...path, keys[0]])}: ${unknownKeysPhrase(keys)} under ${formatPath(path)}${known.length ? ` (it has ${known.join(', ')})` : ''}; check the spelling in the scenario reference`;
    },
  };
  throw new InputError(issues.map((issue) => describeIssue(issue, data, wording)).join('\n'));
}

/** The highest rate the scenario asks for: its stages' peak, or the burst at ready (burst/over per second) if higher. */
function peakRateOf(scenario: Scenario): number {
  const burst = scenario.load.onReady;
  return Math.max(peakRate(stagesOf(scenario)), burst ? burst.burst / Math.max(burst.over / 1000, 0.001) : 0);
}

/** Each expect and ping step's name under summary.json `steps`; two steps may not share one. */
function stepNames(scenario: Scenario, located: Locate): string[] {
  const named = (scenario.session.steps ?? []).map(stepName); // null for send, sleep and close
  const steps = named.filter((n): n is string => n !== null);
  // Two steps under one name would add up under it in summary.json.
  const twice = steps.find((n, i) => steps.indexOf(n) !== i);
  if (twice !== undefined) {
    const at = named.lastIndexOf(twice);
    throw new InputError(`${located(['session', 'steps', at])}: session.steps[${at}]: expected a step name of its own, found "${twice}" a second time (an expect or ping step is named expect-N / ping-N by its position when it has no name)`);
  }
  return steps;
}

/**
 * thresholds[i] parsed, its errors located; a step it names must be one of `steps`; message numbers
 * need a stream, clients' numbers clients; one that stops the run must name a number known while it goes.
 */
function thresholdAt(entry: Scenario['thresholds'][number], i: number, written: boolean, { steps, located, streams, clients }: { steps: readonly string[]; located: Locate; streams: boolean; clients: boolean }): Threshold {
  // A map's expression is named by its key (`written` as a map); the plain string is the entry itself.
  const key = written ? ['thresholds', i, 'expr'] : ['thresholds', i];
  const name = written ? `thresholds[${i}].expr` : `thresholds[${i}]`;
  let t: Threshold;
  try {
    t = parseThreshold(entry.expr);
  } catch (err) {
    throw new InputError(`${located(key)}: ${name}: ${(err as Error).message}`);
  }
  if (entry.abortOnFail === true) {
    const why = notLive(t);
    if (why !== null) throw new InputError(`${located(key)}: ${name}: ${why}`);
    t = { ...t, abortOnFail: true, ...(entry.delay !== undefined ? { delayMs: entry.delay } : {}) };
  }
  // A step's numbers exist only under the names session.steps gives them: any other reads 0 for ever.
  if (t.path[0] === 'steps' && !steps.includes(t.path[1])) {
    const known = steps.length > 0 ? `one of session.steps' expect and ping steps: ${steps.join(', ')}` : 'a session.steps expect or ping step, and the scenario has none';
    throw new InputError(`${located(key)}: ${name}: "steps.${t.path[1]}" names no step (expected ${known})`);
  }
  // Without a stream there are no message numbers: such a threshold would read 0 and pass for ever.
  if (!streams && readsMessages(t)) throw new InputError(`${located(key)}: ${name}: "${t.path.join('.')}" reads session.stream's messages, and the scenario has no session.stream (or session.serverSeq)`);
  // Without clients summary.json has no clients block: the threshold could only fail, at the end.
  if (!clients && t.path[0] === 'clients') throw new InputError(`${located(key)}: ${name}: "${t.path.join('.')}" reads the clients' numbers, and the scenario has no load.population or session.reconnect`);
  return t;
}

/**
 * `${WSRACE}` runs this very wsrace (`node /abs/path/bin/wsrace.js`), so a scenario can spawn the
 * simulator from any directory. The module sits two levels below the package root in src/ and dist/.
 */
export function wsraceCommand(): string {
  return `"${process.execPath}" "${wsraceBin()}"`;
}

function where(file: string, doc: Document, lines: LineCounter, path: readonly PropertyKey[]): string {
  // Walk up to the nearest node that exists in the file (overrides and defaults have none).
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true);
    if (isNode(node) && node.range) return `${file}:${lines.linePos(node.range[0]).line}`;
  }
  return file;
}

/** Keys that are valid alone but not together: caught before anything runs. */
function checkCoherence(s: Scenario, located: Locate): void {
  const fail = (path: (string | number)[], message: string) => {
    throw new InputError(`${located(path)}: ${formatPath(path)}: ${message}`);
  };
  const log = s.timeline?.log;
  if (log && !log.command && !log.file && !s.target.start) fail(['timeline', 'log'], 'expected command: or file: — reading the target\'s output (from: target) needs target.start');
  if (s.timeline?.readyFrom === 'health' && !s.timeline.health) fail(['timeline', 'readyFrom'], 'expected timeline.health to be configured for readyFrom: health');
  if (s.timeline?.readyFrom === 'log' && !s.timeline.log) fail(['timeline', 'readyFrom'], 'expected timeline.log to be configured for readyFrom: log');
  if (s.load.onReady && !s.timeline?.health && !s.timeline?.log) fail(['load', 'onReady'], 'expected a readiness signal to burst on: configure timeline.health or timeline.log');
  // A deploy due after the run can have ended would never launch: the run would pass without it.
  const runEndMs = s.load.startAfter + Math.max(scheduleDurationMs(stagesOf(s)) + s.session.hold, s.load.population ? s.load.duration! : 0) + s.drainTimeout;
  const at = s.target.trigger?.at;
  if (at !== undefined && at >= runEndMs) fail(['target', 'trigger', 'at'], `expected a time before the run can end (${formatMs(runEndMs)} after T0: load.startAfter + the stages and session.hold, or load.duration, + drainTimeout), found ${formatMs(at)}`);
  const stream = s.session.stream;
  if (stream?.reply.seq !== undefined && !stream.send.includes('${seq}')) fail(['session', 'stream', 'send'], `expected \${seq} in the message: replies are matched by the number the server echoes at reply.seq (${stream.reply.seq}); leave reply.seq out to match them in order`);
}

const formatMs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** The line of a key itself (not of its value), for unknown-key errors. */
function keyWhere(file: string, doc: Document, lines: LineCounter, parent: readonly PropertyKey[], key: string): string {
  const map = parent.length === 0 ? doc.contents : doc.getIn(parent as (string | number)[], true);
  if (isMap(map)) {
    const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (pair && isNode(pair.key) && pair.key.range) return `${file}:${lines.linePos(pair.key.range[0]).line}`;
  }
  return where(file, doc, lines, parent);
}

/** Where a key path's value came from, for an error message: `file (--flag)` or `file:line`. */
type Locate = (path: readonly PropertyKey[], key?: string) => string;

/** A scenario value that came from a command-line flag. */
interface FlagValue {
  path: (string | number)[];
  flag: string;
}

/** The flag a key path's value came from: the flag set it, or the path leads to what the flag set. */
function flagAt(flags: FlagValue[], path: readonly PropertyKey[]): string | null {
  const prefix = (a: readonly PropertyKey[], b: readonly PropertyKey[]) => a.length <= b.length && a.every((k, i) => String(k) === String(b[i]));
  // The last flag applied to a key is the one whose value is there.
  const hit = [...flags].reverse().find((f) => prefix(f.path, path) || (path.length >= 2 && prefix(path, f.path)));
  return hit ? hit.flag : null;
}
