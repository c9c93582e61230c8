import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { stepName } from '../scenario/step-names.js';
import type { LoadedScenario } from '../scenario/load.js';
import { stagesOf } from '../scenario/stages.js';
import type { Scenario } from '../scenario/schema.js';
import { InputError } from '../scenario/errors.js';
import { scheduledCount, type Stage } from '../schedule/arrival.js';
import { stripeIndices, stripeShare } from '../schedule/stripe.js';
import { loadUsers } from '../session/users.js';
import { templateProblem } from '../session/template.js';
import { expansionProblem } from '../session/expansion-check.js';
import { defaultSpinBudget, isSpinBudget, leavesACore, SPIN_EXPECTED } from '../engine/wake.js';
import { isNice, NICE_EXPECTED, nicePlan, type NicePlan } from '../engine/priority.js';
import type { EngineOptions } from '../engine/pool.js';
import type { ConnectionSettings, PopulationSettings, StepSpec } from '../engine/protocol.js';
import { sourcePortRange, type PortRange } from '../engine/source-ports.js';
import { TimelineSources } from '../timeline/sources.js';
import type { ReadySource } from '../timeline/collector.js';
import { writeScenarioCopy } from '../report/run-files.js';
import { planCapacity, type CapacityPlan } from './preflight.js';
import type { RunOptions } from './options.js';

/** The spin budget's and the nice's range checks, for the flags that set them (the CLI reaches the engine only through here). */
export { isNice, isSpinBudget, NICE_EXPECTED, SPIN_EXPECTED };

/** A library caller's `nice` (RunOptions, ProcessesOptions): InputError unless absent or a whole number from −20 to 19. */
export function checkNiceOption(nice: number | undefined): void {
  if (nice !== undefined && !isNice(nice)) throw new InputError(`nice ${nice}: expected ${NICE_EXPECTED}`);
}

/** Everything a run is decided by before it starts, resolved once from the scenario and the options. */
export interface RunSettings {
  loaded: LoadedScenario;
  scenario: Scenario;
  workers: number;
  spinBudget: number;
  /** The nice the workers ask for: `--nice` exactly, else nice −10 as a favour when they spin with a core to spare; null: none. */
  nice: NicePlan | null;
  stages: Stage[];
  connection: ConnectionSettings;
  /** The longest an attempt is planned to live (plannedLifeMs). */
  lifetimeMs: number;
  plan: CapacityPlan;
  shard: { index: number; count: number } | null;
  /** This process causes the cold start and watches the timeline. */
  leader: boolean;
  /** Attempts in the whole schedule, over all shards. */
  total: number;
  /** Attempts in this process's share of it. */
  scheduled: number;
  /** The herd sent when the service flips ready (the leader only). */
  burst: Scenario['load']['onReady'];
  /** load.population, resolved for the engine; null without one. */
  population: PopulationSettings | null;
  /** This run's (or shard's) share of the population's clients; 0 without one. */
  clients: number;
  readyFrom: ReadySource | null;
}

/**
 * One worker thread per core but one: the main thread merges, writes and watches the timeline,
 * and a local target (the simulator) needs a core too (measured: docs/performance.md).
 */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * The default spin budget for `threads` workers spinning on this machine (over all its shard
 * processes), `nice` the one asked for with `--nice` (a favoured worker on every core spins not at all).
 */
export function localSpinBudget(threads: number, nice?: number): number {
  return defaultSpinBudget(threads, availableParallelism(), nice !== undefined && nice < 0);
}

export function defaultOutDir(reportsDir: string, name: string, at = new Date()): string {
  const stamp = at.toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
  return join(reportsDir, name, stamp);
}

/** Creates the run folder (the option's, else reports/<name>/<start time>/) with the scenario as run, secrets redacted. */
export function openRunFolder(s: RunSettings, options: RunOptions, startedAt: Date): string {
  const outDir = options.outDir ?? defaultOutDir(options.reportsDir ?? 'reports', s.scenario.name, startedAt);
  mkdirSync(outDir, { recursive: true });
  writeScenarioCopy(outDir, s.scenario, s.loaded.secrets);
  return outDir;
}

/** Resolves workers, spin budget, connection settings, socket capacity and this process's share; throws InputError / RunError. */
export function resolveSettings(loaded: LoadedScenario, options: RunOptions): RunSettings {
  const { scenario } = loaded;
  const workers = options.workers ?? scenario.workers ?? defaultWorkers();
  if (!(Number.isInteger(workers) && workers >= 1)) throw new InputError(`workers ${workers}: expected a positive whole number`);
  // A shard elsewhere (--shard K/N) has its own cores; `--processes` passes the budget for N on this one.
  checkNiceOption(options.nice);
  const spinBudget = options.spinBudget ?? localSpinBudget(workers, options.nice);
  if (!isSpinBudget(spinBudget)) throw new InputError(`spin budget ${spinBudget}: expected ${SPIN_EXPECTED}`);
  const stages = stagesOf(scenario);
  const connection = connectionSettings(scenario, dirname(resolve(loaded.file)), loaded.file);
  const lifetimeMs = plannedLifeMs(connection);
  const shard = options.shard ?? null;
  // maxConnections is the cap of the whole run: a shard gets its share of it.
  const cap = scenario.load.maxConnections;
  const population = populationSettings(scenario);
  const plan = planCapacity(stages, lifetimeMs, cap !== undefined && shard ? Math.max(1, stripeShare(cap, shard)) : cap, undefined, undefined, shard?.count ?? 1, population?.clients ?? 0);
  // Shard 0 (or an unsharded run) causes the cold start and watches the timeline; the others only load.
  const leader = shard === null || shard.index === (options.leader ?? 0);
  const total = scheduledCount(stages);
  const clients = population ? (shard ? stripeShare(population.clients, shard) : population.clients) : 0;
  return {
    loaded,
    scenario,
    workers,
    spinBudget,
    // Unless asked (--nice), favoured by the kernel (WORKER_NICE) only when spinning freely with a core left for the rest.
    nice: nicePlan(options.nice, spinBudget, leavesACore(workers, availableParallelism())),
    stages,
    connection,
    lifetimeMs,
    plan,
    shard,
    leader,
    total,
    scheduled: (shard ? stripeIndices(total, shard).length : total) + clients,
    burst: leader ? scenario.load.onReady : undefined,
    population,
    clients,
    readyFrom: TimelineSources.readyFrom(scenario),
  };
}

/** What the worker pool is started with. */
export function engineOptions(s: RunSettings): EngineOptions {
  return {
    stages: s.stages,
    workers: s.workers,
    shard: s.shard ?? undefined,
    capacity: s.plan.capacity,
    // The run's bound: stages, then an attempt's planned life (handshake, expect/steps, hold), then drainTimeout.
    drainTimeoutMs: s.lifetimeMs + s.scenario.drainTimeout,
    connection: s.connection,
    awaitSeal: s.burst !== undefined,
    population: s.population,
    spinBudget: s.spinBudget,
    nice: s.nice,
  };
}

/**
 * load.population for the engine. Its clients reconnect on session.reconnect's outcomes and
 * backoff, or on every drop a user would retry: going away, cut, server error, restart, try
 * again later, 503, refused, reset; and the 502 and 504 a reverse proxy answers while the
 * revision behind it is down or not up yet (nginx mid-rollout), the same answer as a 503.
 */
export const POPULATION_RECONNECT_ON = ['1001', '1006', '1011', '1012', '1013', 'http_502', 'http_503', 'http_504', 'refused', 'reset'];
/** What reconnecting arrivals (session.reconnect without a population) retry on when `on` is not given. */
export const ARRIVAL_RECONNECT_ON = ['1006', '1011', '1012', '1013', 'http_503', 'refused'];

function populationSettings(s: Scenario): PopulationSettings | null {
  const p = s.load.population;
  if (!p) return null;
  const reconnect = reconnectSettings(s.session.reconnect, POPULATION_RECONNECT_ON) ?? { on: POPULATION_RECONNECT_ON, max: 10, initialMs: 250, factor: 2, maxMs: 5000, jitter: 0.1 };
  return { clients: p.clients, overMs: p.over, endMs: s.load.duration!, reconnect };
}

/** Resolves the scenario's steps into the engine's, naming unnamed expect and ping steps by position. */
export function stepSpecs(s: Scenario): StepSpec[] | null {
  if (!s.session.steps) return null;
  return s.session.steps.map((step, i): StepSpec => {
    if ('send' in step) return { kind: 'send', text: step.send };
    if ('expect' in step) return { kind: 'expect', name: stepName(step, i)!, match: step.expect.match ?? null, json: step.expect.json ?? null, withinMs: step.expect.within };
    if ('sleep' in step) return { kind: 'sleep', ms: step.sleep };
    if ('ping' in step) return { kind: 'ping', name: stepName(step, i)!, withinMs: step.ping.within };
    return { kind: 'close', code: step.close.code, reason: step.close.reason };
  });
}

/** The engine's view of a scenario; an input error in a file it names is prefixed with `file`, the scenario's. */
export function connectionSettings(s: Scenario, baseDir = '.', file?: string): ConnectionSettings {
  try {
    return buildConnectionSettings(s, baseDir);
  } catch (err) {
    if (file !== undefined && err instanceof InputError) throw new InputError(`${file}: ${err.message}`);
    throw err;
  }
}

function buildConnectionSettings(s: Scenario, baseDir: string): ConnectionSettings {
  const tls = s.target.tls;
  const ca = tls?.ca ? readCa(resolve(baseDir, tls.ca), tls.ca) : undefined;
  const users = s.session.users ? loadUsers(resolve(baseDir, s.session.users)) : null;
  const templated = templatedValues(s);
  const problem = templateProblem(templated, users, process.env) ?? expansionProblem(templated, users, process.env);
  if (problem) throw new InputError(problem);
  return {
    url: s.target.url,
    headers: s.target.headers,
    subprotocols: s.target.subprotocols,
    handshakeTimeoutMs: s.target.handshakeTimeout,
    perMessageDeflate: s.target.perMessageDeflate,
    maxPayload: s.target.maxPayload,
    holdMs: s.session.hold,
    send: s.session.send,
    expect: s.session.expect ? { match: s.session.expect.match, withinMs: s.session.expect.within } : null,
    closeTimeoutMs: s.session.closeTimeout,
    servedAfterMs: s.session.servedAfter,
    localAddresses: s.target.localAddresses,
    sourcePorts: s.target.localAddresses.length > 0 ? pickedPortRange() : null,
    steps: stepSpecs(s),
    users,
    tls: tls ? { ca, insecure: tls.insecure, servername: tls.servername } : null,
    reconnect: reconnectSettings(s.session.reconnect, ARRIVAL_RECONNECT_ON),
    stream: streamSettings(s.session.stream),
    serverSeq: s.session.serverSeq ?? null,
  };
}

function streamSettings(st: Scenario['session']['stream']): ConnectionSettings['stream'] {
  if (!st) return null;
  return { everyMs: st.every, send: st.send, match: st.reply.match ?? null, json: st.reply.json ?? null, seq: st.reply.seq ?? null, withinMs: st.within };
}

/** target.tls.ca, read and checked to hold a certificate. */
function readCa(path: string, named: string): string {
  let ca: string;
  try {
    ca = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`target.tls.ca: cannot read ${named} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // Node takes a CA file without a certificate in it silently, and every attempt would then fail verification.
  try {
    new X509Certificate(ca);
  } catch {
    throw new InputError(`target.tls.ca: ${named} holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)`);
  }
  return ca;
}

/** Every value that may hold ${…} templates, with the key it sits under (for the problem's message). */
function templatedValues(s: Scenario): [string, string][] {
  return [
    ['target.url', s.target.url],
    ...Object.entries(s.target.headers).map(([k, v]): [string, string] => [`target.headers.${k}`, v]),
    ...s.target.subprotocols.map((p, i): [string, string] => [`target.subprotocols[${i}]`, p]),
    ...s.session.send.map((m, i): [string, string] => [`session.send[${i}]`, m]),
    ...(s.session.steps ?? []).flatMap((st, i): [string, string][] => ('send' in st ? [[`session.steps[${i}].send`, st.send]] : [])),
    ...(s.session.stream ? [['session.stream.send', s.session.stream.send] as [string, string]] : []),
  ];
}

function reconnectSettings(r: Scenario['session']['reconnect'], defaultOn: string[]): ConnectionSettings['reconnect'] {
  if (!r) return null;
  return { on: r.on ?? defaultOn, max: r.max, initialMs: r.backoff.initial, factor: r.backoff.factor, maxMs: r.backoff.max, jitter: r.backoff.jitter };
}

/** The ports wsrace picks from for source addresses (source-ports.ts); a bad WSRACE_LOCAL_PORTS is an input error. */
function pickedPortRange(): PortRange | null {
  try {
    return sourcePortRange();
  } catch (err) {
    throw new InputError((err as Error).message);
  }
}

/**
 * The longest an attempt is planned to live: handshake, the expect wait or the steps, the hold,
 * and with a stream the wait for the last replies after the hold (up to `within`).
 */
export function plannedLifeMs(c: ConnectionSettings): number {
  let script = c.expect?.withinMs ?? 0;
  if (c.steps) script = c.steps.reduce((sum, st) => sum + (st.kind === 'sleep' ? st.ms : st.kind === 'expect' || st.kind === 'ping' ? st.withinMs : 0), 0);
  return c.handshakeTimeoutMs + script + c.holdMs + (c.stream?.withinMs ?? 0);
}
