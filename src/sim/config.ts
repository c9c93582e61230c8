import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { z, type core } from 'zod';
import { parseDuration, splitDuration, unitToMs } from '../util/duration.js';
import { formatPath } from '../util/key-path.js';
import { describeIssue, unknownKeysPhrase, type IssueWording } from '../util/zod-issues.js';
import { DEFAULT_PHASES, SEED_STAGING_PHASE_TIMEOUTS, STAGING_TIMEOUT_POLICY, type PhaseSpec } from './phases.js';

/**
 * Simulator options: the library's input type, and the loader that builds it from CLI flags
 * and an optional JSON/YAML file (defaults < file < flags). All times in here are model time;
 * the server multiplies them by timeScale.
 */

export const SIM_PROFILES = ['racy', 'gated', 'queued', 'refuse', 'broken', 'rollout'] as const;
export type SimProfile = (typeof SIM_PROFILES)[number];
/** The profiles of one startup; `rollout` is two revisions, the new one starting in one of these. */
export type StartupProfile = Exclude<SimProfile, 'rollout'>;
/** What the new revision of a rollout does while it starts (`refuse` has no meaning behind a router that is already listening). */
export const NEW_PROFILES = ['racy', 'gated', 'queued', 'broken'] as const;
export type NewProfile = (typeof NEW_PROFILES)[number];
/** How the old revision closes its sockets: a close frame with that code, or `cut` (the TCP connection destroyed). */
export const DRAIN_MODES = ['1012', '1001', 'cut'] as const;
export type DrainMode = (typeof DRAIN_MODES)[number];
/** `rolling`: traffic moves, and the old revision drains, when the new one's health says ready; `recreate`: the old one drains at the rollout and traffic moves at once. */
export const STRATEGIES = ['rolling', 'recreate'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface SimOptions {
  /** How `/ws` behaves before ready. Default `racy`. */
  profile?: SimProfile;
  /** Default 0 (any free port; `refuse` picks one up front). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** WebSocket path; other upgrade paths get HTTP 404. Default `/ws`. */
  path?: string;
  /** Wall time = model time × timeScale. Default 1 (≈19.5 s startup). */
  timeScale?: number;
  /** Default DEFAULT_PHASES (the staging run). */
  phases?: PhaseSpec[];
  /** Base timeouts in model seconds by phase name; override phases[].timeout. */
  timeouts?: Record<string, number>;
  /** Default 0.7 (staging). */
  envMultiplier?: number;
  /** Default 1.1. */
  safetyMargin?: number;
  /** Cap on an effective timeout, model seconds. Default 5.0. */
  maxTotal?: number;
  /** racy: /health turns 200 this long before the bridge is ready. Model ms, default 300. */
  raceWindowMs?: number;
  /** racy: sockets accepted this long before the bridge is ready lose their first message. Model ms, default 200. */
  lossWindowMs?: number;
  /** racy: a stream ping's reply is this late at ready (and before it, once the bridge is wired). Model ms, default 1000; 0 = off. */
  warmDelayMs?: number;
  /** racy: that delay falls linearly to none over this long after ready. Model ms, default 2000; 0 = off. */
  warmMs?: number;
  /** Gap between agent events after a user_message. Model ms, default 40. */
  agentStepMs?: number;
  /** Open sockets plus held upgrades allowed at once. Default 10000. */
  maxConnections?: number;
  /** Close 1008 sockets without a Bearer header or `jwt.` subprotocol. Default false. */
  requireAuth?: boolean;
  /** JSON-lines truth file. */
  truth?: string;
  /** Where phase log lines go; default process.stdout, null for none. */
  log?: Writable | null;
  /** /health says "Startup taking too long" after this many model seconds still starting. Default 300. */
  slowStartupAfter?: number;
  /** rollout: when revision B starts (model ms after the start). Default 5000. */
  rolloutAtMs?: number;
  /** rollout: B starts when `POST /_sim/rollout` arrives (a deploy trigger), not at rolloutAtMs. Default false. */
  rolloutOnRequest?: boolean;
  /** rollout: how revision B behaves while it starts. Default `racy`. */
  newProfile?: NewProfile;
  /** rollout: how revision A closes its sockets. Default `1012`. */
  drain?: DrainMode;
  /** rollout: A's closes are spread evenly over this long (model ms). Default 2000. */
  drainOverMs?: number;
  /** rollout: when traffic moves and A drains. Default `rolling`. */
  strategy?: Strategy;
  /** rollout: revision A holds each stream reply this long (model ms), so messages are outstanding when it drains. Default 0. */
  oldReplyDelayMs?: number;
  /** The cold start's moment (epoch ms on the engine's clock); default the start call. `--processes` gives every process the primary's. */
  t0?: number;
}

/** What the loader produces: everything the server needs, defaults applied (log left to the caller). */
export type ResolvedSimOptions = Required<Omit<SimOptions, 'truth' | 'log' | 'timeouts' | 't0'>> & {
  truth?: string;
  t0?: number;
  timeouts: Record<string, number>;
};

export const SIM_DEFAULTS = {
  profile: 'racy' as SimProfile,
  port: 0,
  host: '127.0.0.1',
  path: '/ws',
  timeScale: 1,
  envMultiplier: STAGING_TIMEOUT_POLICY.envMultiplier,
  safetyMargin: STAGING_TIMEOUT_POLICY.safetyMargin,
  maxTotal: STAGING_TIMEOUT_POLICY.maxTotal,
  raceWindowMs: 300,
  lossWindowMs: 200,
  warmDelayMs: 1000,
  warmMs: 2000,
  agentStepMs: 40,
  maxConnections: 10000,
  requireAuth: false,
  slowStartupAfter: 300,
  rolloutAtMs: 5000,
  rolloutOnRequest: false,
  newProfile: 'racy' as NewProfile,
  drain: '1012' as DrainMode,
  drainOverMs: 2000,
  strategy: 'rolling' as Strategy,
  oldReplyDelayMs: 0,
};

/** Bad config or flag; the CLI convention is exit code 2 with the message. */
export class SimConfigError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'SimConfigError';
  }
}

/** Applies defaults and the per-profile rules (broken gets the seed's timeouts) to library options. */
export function resolveSimOptions(opts: SimOptions = {}): ResolvedSimOptions {
  const profile = opts.profile ?? SIM_DEFAULTS.profile;
  if (!SIM_PROFILES.includes(profile)) throw new SimConfigError(`sim: profile: expected one of ${SIM_PROFILES.join(', ')}, found ${JSON.stringify(profile)}`);
  const phases = (opts.phases ?? DEFAULT_PHASES).map((p) => ({ ...p }));
  // broken = the seed's aggressive staging phase timeouts, unless the caller supplied timeouts of its own.
  const given = opts.timeouts ?? {};
  const hasOwn = Object.keys(given).length > 0 || phases.some((p) => p.timeout !== undefined);
  const broken = profile === 'broken' || (profile === 'rollout' && opts.newProfile === 'broken');
  const timeouts = { ...(broken && !hasOwn ? SEED_STAGING_PHASE_TIMEOUTS : {}), ...given };
  const names = new Set(phases.map((p) => p.name));
  for (const name of Object.keys(timeouts)) {
    if (!names.has(name)) {
      if (name in given) throw new SimConfigError(`sim: timeouts.${name}: expected the name of a phase (${[...names].join(', ')}), found "${name}"`);
      delete timeouts[name];
    }
  }
  for (const p of phases) if (timeouts[p.name] !== undefined) p.timeout = timeouts[p.name];
  const out: ResolvedSimOptions = {
    ...SIM_DEFAULTS,
    ...stripUndefined({ ...opts, log: undefined }),
    profile,
    phases,
    timeouts,
  } as ResolvedSimOptions;
  delete (out as SimOptions).log;
  if (!out.path.startsWith('/')) throw new SimConfigError(`sim: path: expected a path starting with /, found ${JSON.stringify(out.path)}`);
  if (!(out.timeScale > 0)) throw new SimConfigError(`sim: timeScale: expected a positive number, found ${out.timeScale}`);
  return out;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ---------------------------------------------------------------------------------------------
// Schema shared by the config file and the flags. Messages start with "expected" so errors read
// "<source>: <key>: expected …, found …".

const SECONDS = 'a number of seconds or a duration like 1.5s or 300ms';

/** Bare numbers (and numeric strings) are seconds here: the published phase figures are seconds. */
const seconds = (positive: boolean) =>
  z.union([z.number(), z.string()], { error: `expected ${SECONDS}` }).transform((value, ctx) => {
    const d = typeof value === 'number' ? { value, unit: undefined } : splitDuration(value);
    const s = d === null ? Number.NaN : d.unit === undefined ? d.value : unitToMs(d.value, d.unit) / 1000;
    if (!Number.isFinite(s) || s < 0 || (positive && s === 0)) {
      ctx.addIssue({ code: 'custom', message: `expected ${positive ? 'a positive' : 'a non-negative'} ${SECONDS.slice(2)}` });
      return z.NEVER;
    }
    return s;
  });

/** Bare numbers are milliseconds here, as for every other wsrace duration. */
const millis = () =>
  z.union([z.number(), z.string()], { error: 'expected a duration like 300ms or 0.5s' }).transform((value, ctx) => {
    try {
      return parseDuration(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected a non-negative duration like 300ms or 0.5s' });
      return z.NEVER;
    }
  });

const positive = (what: string) => z.number({ error: `expected ${what}` }).positive(`expected ${what}`);

const phaseSchema = z
  .object({
    name: z.string({ error: 'expected a phase name' }).regex(/^\w+$/, 'expected a phase name of letters, digits and _'),
    duration: seconds(false),
    timeout: seconds(true).optional(),
  })
  .strict();

export const simConfigSchema = z
  .object({
    profile: z.enum(SIM_PROFILES, { error: `expected one of ${SIM_PROFILES.join(', ')}` }).optional(),
    port: z.number({ error: 'expected a port number' }).int('expected an integer port').min(0, 'expected a port 0-65535').max(65535, 'expected a port 0-65535').optional(),
    host: z.string({ error: 'expected a host name or address' }).min(1, 'expected a host name or address').optional(),
    path: z.string({ error: 'expected a path like /ws' }).regex(/^\/\S*$/, 'expected a path like /ws').optional(),
    timeScale: positive('a positive number (0.1 = ten times faster)').optional(),
    phases: z.array(phaseSchema, { error: 'expected a list of {name, duration, timeout?}' }).min(1, 'expected at least one phase').optional(),
    timeouts: z.record(z.string().regex(/^\w+$/, 'expected a phase name'), seconds(true), { error: 'expected a map of phase: seconds' }).optional(),
    envMultiplier: positive('a positive multiplier like 0.7').optional(),
    safetyMargin: positive('a positive multiplier like 1.1').optional(),
    maxTotal: seconds(true).optional(),
    raceWindow: millis().optional(),
    lossWindow: millis().optional(),
    warm: millis().optional(),
    warmDelay: millis().optional(),
    agentStep: millis().optional(),
    maxConnections: z.number({ error: 'expected a number of connections' }).int('expected an integer').positive('expected a positive number of connections').optional(),
    requireAuth: z.boolean({ error: 'expected true or false' }).optional(),
    truth: z.string({ error: 'expected a file path' }).min(1, 'expected a file path').optional(),
    slowStartupAfter: seconds(true).optional(),
    rolloutAt: millis().optional(),
    rolloutOnRequest: z.boolean({ error: 'expected true or false' }).optional(),
    new: z.enum(NEW_PROFILES, { error: `expected one of ${NEW_PROFILES.join(', ')}` }).optional(),
    drain: z.enum(DRAIN_MODES, { error: `expected one of ${DRAIN_MODES.join(', ')}` }).optional(),
    drainOver: millis().optional(),
    strategy: z.enum(STRATEGIES, { error: `expected one of ${STRATEGIES.join(', ')}` }).optional(),
    oldReplyDelay: millis().optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.phases?.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['phases', i, 'name'], message: `expected a unique phase name ("${p.name}" appears twice)` });
      seen.add(p.name);
    });
  });

export type SimConfigInput = z.input<typeof simConfigSchema>;
type SimConfigParsed = z.output<typeof simConfigSchema>;

/** Flags as yargs hands them over (camelCase); all optional so the file can fill the gaps. */
export interface SimCliArgs {
  config?: string;
  profile?: string;
  port?: number;
  host?: string;
  path?: string;
  timeScale?: number;
  phases?: string;
  timeout?: string | string[];
  envMultiplier?: number;
  safetyMargin?: number;
  maxTotal?: number | string;
  raceWindow?: number | string;
  lossWindow?: number | string;
  warm?: number | string;
  warmDelay?: number | string;
  agentStep?: number | string;
  maxConnections?: number;
  requireAuth?: boolean;
  truth?: string;
  rolloutAt?: number | string;
  rolloutOnRequest?: boolean;
  new?: string;
  drain?: number | string;
  drainOver?: number | string;
  strategy?: string;
  oldReplyDelay?: number | string;
}

/** Reads and validates a config file (JSON or YAML); errors name the file, the key and what was expected. */
export function loadSimConfigFile(file: string): SimConfigParsed {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SimConfigError(`sim config ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseSimConfigText(text, file);
}

export function parseSimConfigText(text: string, file: string): SimConfigParsed {
  let raw: unknown;
  try {
    raw = parseYaml(text); // YAML 1.2 parses JSON too.
  } catch (err) {
    throw new SimConfigError(`sim config ${file}: not valid JSON or YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw === null || raw === undefined) return {};
  const parsed = simConfigSchema.safeParse(raw);
  if (!parsed.success) throw new SimConfigError(describeIssues(parsed.error.issues, raw, (path) => `sim config ${file}: ${path.length ? formatPath(path) : 'the top level'}`));
  return parsed.data;
}

/** Turns flags into the config's shape and validates them; errors name the flag. */
export function parseSimCliArgs(args: SimCliArgs): SimConfigParsed {
  const raw: Record<string, unknown> = {};
  const copy = ['profile', 'port', 'host', 'path', 'timeScale', 'envMultiplier', 'safetyMargin', 'maxTotal', 'raceWindow', 'lossWindow', 'warm', 'warmDelay', 'agentStep', 'maxConnections', 'requireAuth', 'truth', 'rolloutAt', 'rolloutOnRequest', 'new', 'drainOver', 'strategy', 'oldReplyDelay'] as const;
  for (const key of copy) if (args[key] !== undefined) raw[key] = args[key];
  if (args.drain !== undefined) raw.drain = String(args.drain); // --drain 1012 arrives as a number
  if (args.phases !== undefined) raw.phases = parseAssignments(String(args.phases), '--phases', 'init=2.415,dependencies=14.084').map(([name, duration]) => ({ name, duration }));
  const timeouts = args.timeout === undefined ? [] : Array.isArray(args.timeout) ? args.timeout : [args.timeout];
  if (timeouts.length > 0) raw.timeouts = Object.fromEntries(timeouts.flatMap((t) => parseAssignments(String(t), '--timeout', 'dependencies=1.5')));
  const parsed = simConfigSchema.safeParse(raw);
  if (!parsed.success) throw new SimConfigError(describeIssues(parsed.error.issues, raw, (path) => `sim option ${flagPath(path)}`));
  return parsed.data;
}

/** `a=1,b=2s` → [['a','1'],['b','2s']]. */
function parseAssignments(text: string, flag: string, example: string): [string, string][] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((part) => {
      const m = /^(\w+)\s*=\s*(\S+)$/.exec(part);
      if (!m) throw new SimConfigError(`sim option ${flag}: expected name=seconds pairs like ${example}, found ${JSON.stringify(part)}`);
      return [m[1], m[2]];
    });
}

/** The rollout profile's own options, with the flag that sets each. */
const ROLLOUT_OPTIONS: [keyof SimOptions, string][] = [
  ['rolloutAtMs', '--rollout-at'],
  ['rolloutOnRequest', '--rollout-on-request'],
  ['newProfile', '--new'],
  ['drain', '--drain'],
  ['drainOverMs', '--drain-over'],
  ['strategy', '--strategy'],
  ['oldReplyDelayMs', '--old-reply-delay'],
];

/** SIM_DEFAULTS < `defaults` < file < flags, then the library's own resolution. */
export function loadSimConfig(args: SimCliArgs, defaults: SimOptions = {}): ResolvedSimOptions {
  const file = args.config ? loadSimConfigFile(args.config) : {};
  const cli = parseSimCliArgs(args);
  const merged = toSimOptions({ ...file, ...cli, timeouts: { ...file.timeouts, ...cli.timeouts } });
  const profile = merged.profile ?? defaults.profile ?? SIM_DEFAULTS.profile;
  const rolloutOnly = ROLLOUT_OPTIONS.find(([key]) => merged[key] !== undefined);
  // Silently ignored, a drain or a new revision that never comes would read as a rollout that went well.
  if (profile !== 'rollout' && rolloutOnly) throw new SimConfigError(`sim option ${rolloutOnly[1]}: applies to --profile rollout only, and the profile is ${profile}`);
  if (merged.rolloutOnRequest && merged.rolloutAtMs !== undefined) throw new SimConfigError('sim option --rollout-at: revision B starts on request with --rollout-on-request; give one of the two');
  try {
    return resolveSimOptions({ ...stripUndefined(defaults), ...merged });
  } catch (err) {
    if (err instanceof SimConfigError && args.config) throw new SimConfigError(`${err.message} (config ${args.config} and flags)`);
    throw err;
  }
}

/** Maps the config shape onto SimOptions names (windows are model ms, timeouts model seconds). */
export function toSimOptions(cfg: SimConfigParsed): SimOptions {
  const out: SimOptions = {
    profile: cfg.profile,
    port: cfg.port,
    host: cfg.host,
    path: cfg.path,
    timeScale: cfg.timeScale,
    phases: cfg.phases?.map((p) => (p.timeout === undefined ? { name: p.name, duration: p.duration } : { name: p.name, duration: p.duration, timeout: p.timeout })),
    timeouts: cfg.timeouts,
    envMultiplier: cfg.envMultiplier,
    safetyMargin: cfg.safetyMargin,
    maxTotal: cfg.maxTotal,
    raceWindowMs: cfg.raceWindow,
    lossWindowMs: cfg.lossWindow,
    warmMs: cfg.warm,
    warmDelayMs: cfg.warmDelay,
    agentStepMs: cfg.agentStep,
    maxConnections: cfg.maxConnections,
    requireAuth: cfg.requireAuth,
    truth: cfg.truth,
    slowStartupAfter: cfg.slowStartupAfter,
    rolloutAtMs: cfg.rolloutAt,
    rolloutOnRequest: cfg.rolloutOnRequest,
    newProfile: cfg.new,
    drain: cfg.drain,
    drainOverMs: cfg.drainOver,
    strategy: cfg.strategy,
    oldReplyDelayMs: cfg.oldReplyDelay,
  };
  return stripUndefined(out) as SimOptions;
}

// ---------------------------------------------------------------------------------------------

const FLAG_OF: Record<string, string> = { phases: '--phases', timeouts: '--timeout', raceWindow: '--race-window', lossWindow: '--loss-window', agentStep: '--agent-step', new: '--new' };

function flagPath(path: readonly PropertyKey[]): string {
  const first = String(path[0] ?? '');
  const flag = FLAG_OF[first] ?? `--${first.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return path.length > 1 ? `${flag} (${formatPath(path.slice(1))})` : flag;
}

/** Every issue, one line each, from where its value came (`at`: the file and key, or the flag). */
function describeIssues(issues: readonly core.$ZodIssue[], data: unknown, at: (path: readonly PropertyKey[]) => string): string {
  const wording: IssueWording = {
    at,
    unknownKeys: ({ path, keys }) => {
      const known = path.length === 0 ? Object.keys(simConfigSchema.shape) : path[0] === 'phases' ? Object.keys(phaseSchema.shape) : [];
      return `${at(path)}: ${unknownKeysPhrase(keys)}${known.length ? `; expected only ${known.join(', ')}` : ''}`;
    },
  };
  return issues.map((issue) => describeIssue(issue, data, wording)).join('\n');
}
