import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { now } from '../util/clock.js';
import { stepName } from '../scenario/step-names.js';
import type { LoadedScenario } from '../scenario/load.js';
import { stagesOf } from '../scenario/stages.js';
import type { Scenario } from '../scenario/schema.js';
import { scheduleDurationMs, scheduledCount, peakRate } from '../schedule/arrival.js';
import { stripeIndices, stripeShare } from '../schedule/stripe.js';
import { Engine } from '../engine/pool.js';
import { defaultSpinBudget, isSpinBudget, leavesACore } from '../engine/wake.js';
import type { ConnectionSettings, StepSpec } from '../engine/protocol.js';
import { loadUsers } from '../session/users.js';
import { templateProblem } from '../session/template.js';
import { expansionProblem } from '../session/expansion-check.js';
import { InputError } from '../scenario/errors.js';
import { addAttempt, emptyTotals } from '../record/totals.js';
import { EventsFile } from '../record/events-file.js';
import { ERROR_KINDS, type AttemptRecord } from '../record/attempt.js';
import { buildSummary, type StepReport, type Summary } from '../report/summary.js';
import { createHistogram, latencyStats } from '../record/histogram.js';
import type { Histogram } from 'hdr-histogram-js';
import { redactHeaders, redactSubprotocols, redactUrl, redactValues } from '../report/redact.js';
import { TargetProcess } from '../target/process.js';
import { checkResolvable, planCapacity } from './preflight.js';
import { TimelineCollector } from '../timeline/collector.js';
import { TimelineSources } from '../timeline/sources.js';
import { attributeEventsFile } from '../timeline/phase-report.js';
import { summarizeTimeline } from '../report/assemble.js';
import { IntervalLog } from '../record/interval-log.js';
import { ClientTracker } from '../record/clients.js';
import { clientsReport } from '../timeline/clients-report.js';
import { phaseAt, timelineOf, type PhaseTimeline } from '../timeline/attribute.js';
import type { TimelineEvent } from '../timeline/types.js';
import { writeRunReports, writeScenarioCopy, pointLatest } from '../report/run-files.js';
import { RunError } from './errors.js';
import { sourcePortRange, type PortRange } from '../engine/source-ports.js';

export interface Progress {
  elapsedMs: number;
  scheduled: number;
  attempted: number;
  /** Attempts finished in the last second. */
  perSecond: number;
  openNow: number;
  opened: number;
  failures: Record<string, number>;
}

export interface RunOptions {
  /** Run folder; default reports/<name>/<UTC timestamp>/ under `reportsDir`. */
  outDir?: string;
  reportsDir?: string;
  workers?: number;
  /**
   * Fraction of each worker's time it may busy-wait through the last 1.5 ms before a start, 0–1
   * (`--spin`). Default 1 while the workers leave a core free, else 0.25 (`--processes` passes
   * the budget for all its shards' workers on this machine); lower
   * it when the target shares the machine and needs the CPU: starts then ride timers and run
   * ~0.5 ms late. Out of range: InputError.
   */
  spinBudget?: number;
  /** Aborting it stops the run gracefully (Ctrl-C): the summary is written with partial: true. */
  signal?: AbortSignal;
  onProgress?(p: Progress): void;
  /** Called once with the run folder, before any attempt. */
  onStart?(info: { outDir: string; scheduled: number; onReadyBurst: number; workers: number; capacity: number }): void;
  /** Run stripe K of N of the global schedule (`--shard K/N`); shard 0 causes and watches the cold start. */
  shard?: { index: number; count: number };
  /** Epoch ms of T0 shared by all shards (`--start-at`); the run waits for it. */
  startAt?: number;
  /** The shard that causes and watches the cold start (`--leader K`, default 0). */
  leader?: number;
  /** Warnings for the console (a late start, clock skew). */
  onWarning?(message: string): void;
}

/** A shard starting this much after the shared start time says so: its clock or its start was off. */
export const START_AT_TOLERANCE_MS = 250;

export interface RunResult {
  summary: Summary;
  outDir: string;
  /** 0 pass, 1 a threshold failed (exit codes 2 and 3 are thrown as InputError / RunError). */
  exitCode: number;
}

const ENGINE_READY_TIMEOUT_MS = 30_000;
/** Lead between `go` and the first scheduled attempt when nothing else sets T0. */
const GO_LEAD_MS = 50;

/**
 * One worker thread per core but one: the main thread merges, writes and watches the timeline,
 * and a local target (the simulator) needs a core too. Measured on 2 cores against a local
 * server: 1 worker keeps schedule lag p99 ≈ 2 ms at 1,200/s where 2 workers reach ≈ 20 ms.
 */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

export function defaultOutDir(reportsDir: string, name: string, at = new Date()): string {
  const stamp = at.toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
  return join(reportsDir, name, stamp);
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
  let ca: string | undefined;
  if (tls?.ca) {
    try {
      ca = readFileSync(resolve(baseDir, tls.ca), 'utf8');
    } catch (err) {
      throw new InputError(`target.tls.ca: cannot read ${tls.ca} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    // Node takes a CA file without a certificate in it silently, and every attempt would then fail verification.
    try {
      new X509Certificate(ca);
    } catch {
      throw new InputError(`target.tls.ca: ${tls.ca} holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)`);
    }
  }
  const users = s.session.users ? loadUsers(resolve(baseDir, s.session.users)) : null;
  const templated: [string, string][] = [
    ['target.url', s.target.url],
    ...Object.entries(s.target.headers).map(([k, v]): [string, string] => [`target.headers.${k}`, v]),
    ...s.target.subprotocols.map((p, i): [string, string] => [`target.subprotocols[${i}]`, p]),
    ...s.session.send.map((m, i): [string, string] => [`session.send[${i}]`, m]),
    ...(s.session.steps ?? []).flatMap((st, i): [string, string][] => ('send' in st ? [[`session.steps[${i}].send`, st.send]] : [])),
  ];
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
    localAddresses: s.target.localAddresses,
    sourcePorts: s.target.localAddresses.length > 0 ? pickedPortRange() : null,
    steps: stepSpecs(s),
    users,
    tls: tls ? { ca, insecure: tls.insecure, servername: tls.servername } : null,
    reconnect: s.session.reconnect
      ? {
          on: s.session.reconnect.on.map(String),
          max: s.session.reconnect.max,
          initialMs: s.session.reconnect.backoff.initial,
          factor: s.session.reconnect.backoff.factor,
          maxMs: s.session.reconnect.backoff.max,
          jitter: s.session.reconnect.backoff.jitter,
        }
      : null,
  };
}

/** The ports wsrace picks from for source addresses (source-ports.ts); a bad WSRACE_LOCAL_PORTS is an input error. */
function pickedPortRange(): PortRange | null {
  try {
    return sourcePortRange();
  } catch (err) {
    throw new InputError((err as Error).message);
  }
}

/** The longest an attempt is planned to live: handshake, the expect wait or the steps, the hold. */
export function plannedLifeMs(c: ConnectionSettings): number {
  let script = c.expect?.withinMs ?? 0;
  if (c.steps) script = c.steps.reduce((sum, st) => sum + (st.kind === 'sleep' ? st.ms : st.kind === 'expect' || st.kind === 'ping' ? st.withinMs : 0), 0);
  return c.handshakeTimeoutMs + script + c.holdMs;
}


/** Runs a loaded scenario end to end and writes its run folder. The CLI is a thin layer over this. */
export async function runScenario(loaded: LoadedScenario, options: RunOptions = {}): Promise<RunResult> {
  const { scenario, thresholds } = loaded;
  const workers = options.workers ?? scenario.workers ?? defaultWorkers();
  if (!(Number.isInteger(workers) && workers >= 1)) throw new InputError(`workers ${workers}: expected a positive whole number`);
  // A shard elsewhere (--shard K/N) has its own cores; `--processes` passes the budget for N on this one.
  const spinBudget = options.spinBudget ?? defaultSpinBudget(workers, availableParallelism());
  if (!isSpinBudget(spinBudget)) throw new InputError(`spin budget ${spinBudget}: expected a fraction from 0 to 1`);
  // Favoured by the kernel (nice −10, WORKER_NICE) only when spinning freely with a core left for the rest.
  const raisePriority = spinBudget >= 1 && leavesACore(workers, availableParallelism());
  const stages = stagesOf(scenario);
  const connection = connectionSettings(scenario, dirname(resolve(loaded.file)), loaded.file);
  const lifetimeMs = plannedLifeMs(connection);
  // maxConnections is the cap of the whole run: a shard gets its share of it.
  const cap = scenario.load.maxConnections;
  const plan = planCapacity(stages, lifetimeMs, cap !== undefined && options.shard ? Math.max(1, stripeShare(cap, options.shard)) : cap, undefined, undefined, options.shard?.count ?? 1);
  if (!scenario.target.start && !scenario.target.trigger) await checkResolvable(connection.url);

  const startedAt = new Date();
  const outDir = options.outDir ?? defaultOutDir(options.reportsDir ?? 'reports', scenario.name, startedAt);
  mkdirSync(outDir, { recursive: true });
  writeScenarioCopy(outDir, scenario, loaded.secrets);
  const shard = options.shard ?? null;
  // Shard 0 (or an unsharded run) causes the cold start and watches the timeline; the others only load.
  const leader = shard === null || shard.index === (options.leader ?? 0);
  const total = scheduledCount(stages); // the whole schedule, over all shards
  const scheduled = shard ? stripeIndices(total, shard).length : total;
  const burst = leader ? scenario.load.onReady : undefined;
  options.onStart?.({ outDir, scheduled, onReadyBurst: burst?.burst ?? 0, workers, capacity: plan.capacity });

  let t0 = now() + GO_LEAD_MS;
  const totals = emptyTotals();
  const events = new EventsFile(join(outDir, 'events.ndjson'), () => t0);
  let finishedLastSecond = 0;
  let intervalLog: IntervalLog | null = null;
  const clientTracker = new ClientTracker();
  let firstAttempts = 0;
  const stepFailures = new Map<string, { timeouts: number; closed: Record<string, number> }>();
  const countStepFailure = (r: AttemptRecord) => {
    let f = stepFailures.get(r.step!);
    if (!f) stepFailures.set(r.step!, (f = { timeouts: 0, closed: {} }));
    if (r.stepFail === 'timeout') f.timeouts++;
    else {
      const code = String(r.code ?? 1006);
      f.closed[code] = (f.closed[code] ?? 0) + 1;
    }
  };
  const engine = new Engine(
    // The run's bound: stages, then an attempt's planned life (handshake, expect/steps, hold), then drainTimeout.
    { stages, workers, shard: shard ?? undefined, capacity: plan.capacity, drainTimeoutMs: lifetimeMs + scenario.drainTimeout, connection, awaitSeal: burst !== undefined, spinBudget, raisePriority },
    {
      records(records: AttemptRecord[]) {
        const timeline = liveTimeline();
        for (const r of records) {
          addAttempt(totals, r);
          clientTracker.add(r);
          if ((r.try ?? 0) === 0) firstAttempts++;
          if (r.step !== undefined) countStepFailure(r);
          intervalLog?.addRecord(r, phaseAt(timeline, r.sched - t0));
        }
        finishedLastSecond += records.length;
        events.write(records);
      },
      interval(tick) {
        intervalLog?.addInterval(tick.worker, tick.from, tick.at, tick.histograms);
      },
    },
  );

  // The herd that arrives when the service flips ready: scheduled from the moment it is seen.
  let burstSent = 0;
  let sealed = false;
  const seal = () => {
    if (!sealed) {
      sealed = true;
      engine.seal();
    }
  };
  const readyFrom = TimelineSources.readyFrom(scenario);
  const collector = new TimelineCollector(join(outDir, 'timeline.ndjson'), readyFrom, (at) => {
    if (!burst || sealed) return;
    const start = Math.max(at, now());
    // Indices after the whole (unsharded) schedule: unique across shards (only the leader bursts).
    const attempts = Array.from({ length: burst.burst }, (_, j) => ({ i: total + j, sched: start + (burst.over * j) / burst.burst }));
    burstSent = attempts.length;
    engine.add(attempts);
    seal();
  });
  // The timeline as known so far, for live per-phase interval histograms (recomputed on change).
  let timelineDirty = true;
  let cachedTimeline: PhaseTimeline = { spans: [], readyAtMs: null, failedAtMs: null };
  const liveTimeline = (): PhaseTimeline => {
    if (timelineDirty) {
      timelineDirty = false;
      cachedTimeline = timelineOf(collector.events, t0, readyFrom).timeline;
    }
    return cachedTimeline;
  };
  const onTimelineEvent = (e: TimelineEvent) => {
    collector.add(e);
    if (e.kind !== 'probe') timelineDirty = true;
  };
  const sources = new TimelineSources(leader ? scenario : { ...scenario, timeline: undefined }, onTimelineEvent);
  let lateByMs: number | null = null;

  let target: TargetProcess | null = null;
  let trigger: TargetProcess | null = null;
  let interruptedBy: string | null = null;
  let progressTimer: NodeJS.Timeout | null = null;
  let sealTimer: NodeJS.Timeout | null = null;
  const flushOnExit = () => intervalLog?.close(now());
  const onAbort = () => {
    interruptedBy ??= String(options.signal?.reason ?? 'interrupted');
    seal();
    engine.stop();
  };
  try {
    const readyTimeout = new Promise<never>((_, reject) => {
      const timer = setTimeout(() => reject(new RunError(`worker threads did not start within ${ENGINE_READY_TIMEOUT_MS / 1000} s`)), ENGINE_READY_TIMEOUT_MS);
      timer.unref();
    });
    await Promise.race([engine.ready, readyTimeout]);
    if (options.startAt !== undefined) {
      // Shards line up on a shared T0; one that gets here late (or whose clock is off) says so.
      const wait = options.startAt - now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else if (-wait > START_AT_TOLERANCE_MS) {
        lateByMs = Math.round(-wait);
        options.onWarning?.(`started ${lateByMs} ms after --start-at (tolerance ${START_AT_TOLERANCE_MS} ms): this shard's clock or start was late; its attempts are still scheduled from the shared T0`);
      }
    }

    // T0: the target's launch (or the trigger's), else the first scheduled attempt.
    const { start, trigger: triggerCfg } = leader ? scenario.target : { start: undefined, trigger: undefined };
    if (start) {
      target = new TargetProcess({ command: start.command, cwd: start.cwd, env: start.env, stopGraceMs: start.stopGrace, logFile: join(outDir, 'target.log') });
      target.on('exit', (e: { code: number | null; signal: NodeJS.Signals | null; at: number }) => onTimelineEvent({ kind: 'exit', source: 'target', at: e.at, code: e.code, signal: e.signal }));
      t0 = target.startedAt;
    }
    if (triggerCfg) {
      trigger = new TargetProcess({ command: triggerCfg.command, stopGraceMs: 1000, logFile: join(outDir, 'trigger.log'), keepRunning: true });
      if (!start) t0 = trigger.startedAt;
    }
    if (!start && !triggerCfg) t0 = options.startAt ?? now() + GO_LEAD_MS;
    collector.setT0(t0);
    intervalLog = new IntervalLog(join(outDir, 'latency.hlog'), t0, workers);
    // An abrupt exit (a second Ctrl-C) still appends what the interval log holds (writes are sync).
    process.once('exit', flushOnExit);
    sources.start(target);
    const scheduleStart = t0 + scenario.load.startAfter;
    engine.go(Math.max(scheduleStart, now() + 1));
    if (burst) {
      // No readiness by the end of the stages: no burst, and the workers may finish.
      const end = scheduleStart + scheduleDurationMs(stages);
      sealTimer = setTimeout(seal, Math.max(0, end - now()));
    }

    if (options.signal) {
      if (options.signal.aborted) onAbort();
      else options.signal.addEventListener('abort', onAbort, { once: true });
    }
    progressTimer = setInterval(() => {
      options.onProgress?.({
        elapsedMs: now() - t0,
        scheduled: scheduled + burstSent,
        attempted: totals.attempted,
        perSecond: finishedLastSecond,
        openNow: engine.openNow,
        opened: totals.opened,
        failures: failureKinds(totals),
      });
      finishedLastSecond = 0;
    }, 1000);
    await engine.finished;
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    if (sealTimer) clearTimeout(sealTimer);
    options.signal?.removeEventListener('abort', onAbort);
    // First: closes the workers' ports, so no record arrives after the files below are closed.
    // (A dead worker's records still queued on its port are dropped and counted as lost.)
    // The target must still be stopped and the files closed whatever happens here.
    await engine.close().catch((err: unknown) => process.emitWarning(`wsrace: closing the worker pool failed: ${err instanceof Error ? err.message : String(err)}`));

    await sources.stop();
    await target?.stop();
    trigger?.release(); // a trigger (a deploy) is waited for by nobody and never killed
    await events.close();
    await collector.close();
    intervalLog?.close(now());
    process.off('exit', flushOnExit);
  }
  // A dead worker's unreported attempts are counted (as lost) and written like any other.
  const lost = engine.lostRecords();
  if (lost.length > 0) {
    for (const r of lost) addAttempt(totals, r);
    const lostEvents = new EventsFile(join(outDir, 'events.ndjson'), () => t0, 'a');
    lostEvents.write(lost);
    await lostEvents.close();
  }

  const { summary: timelineSummary, timeline } = summarizeTimeline(collector.events, t0, readyFrom);
  const attribution = await attributeEventsFile(join(outDir, 'events.ndjson'), timeline, { rewrite: true });
  const workerReports = engine.workers.map((w) => ({ worker: w.worker, scheduled: w.scheduled, nice: w.nice, error: w.error }));
  const partial = interruptedBy !== null || workerReports.some((w) => w.error !== null) || firstAttempts + lost.filter((r) => (r.try ?? 0) === 0).length < scheduled + burstSent;
  const summary = buildSummary({
    scenario: scenario.name,
    scenarioFile: loaded.file,
    target: redactValues(
      {
        url: redactUrl(connection.url),
        headers: redactHeaders(connection.headers, scenario.target.secretHeaders),
        subprotocols: redactSubprotocols(connection.subprotocols),
      },
      loaded.secrets,
    ),
    startedAt: startedAt.toISOString(),
    t0: new Date(t0).toISOString(),
    t0EpochMs: t0,
    readyFrom,
    durationMs: Math.round(now() - t0),
    partial,
    interruptedBy,
    workers: workerReports,
    shard: shard ? { ...shard, lateByMs, leader } : null,
    limits: { openFiles: plan.fdLimit, maxSockets: plan.capacity },
    schedule: { scheduled: scheduled + burstSent, durationMs: scheduleDurationMs(stages), startAfterMs: scenario.load.startAfter, peakRate: peakRate(stages), onReadyBurst: burstSent, spinBudget },
    totals,
    steps: stepReports(connection.steps, engine.stepHistograms, stepFailures),
    clients: clientsReport(clientTracker.clients(), timeline, t0),
    histograms: engine.histograms,
    thresholdDefs: thresholds,
    timeline: timelineSummary,
    attribution,
    hasTimelineSource: TimelineSources.configured(scenario),
  });
  writeFileSync(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  await writeRunReports(outDir, summary, engine.histograms);
  pointLatest(outDir, scenario.name);
  return { summary, outDir, exitCode: summary.verdict === 'pass' ? 0 : 1 };
}

/** summary.steps: every expect and ping step in script order, passed from its histogram, failures from the records. */
function stepReports(
  steps: StepSpec[] | null,
  histograms: Map<string, { fromStart: Histogram; fromOpen: Histogram }>,
  failures: Map<string, { timeouts: number; closed: Record<string, number> }>,
): Record<string, StepReport> | undefined {
  if (!steps) return undefined;
  const out: Record<string, StepReport> = {};
  for (const step of steps) {
    if (step.kind !== 'expect' && step.kind !== 'ping') continue;
    const h = histograms.get(step.name);
    const f = failures.get(step.name);
    out[step.name] = {
      kind: step.kind,
      passed: h?.fromOpen.totalCount ?? 0,
      timeouts: f?.timeouts ?? 0,
      closed: f?.closed ?? {},
      fromStartMs: latencyStats(h?.fromStart ?? createHistogram()),
      fromOpenMs: latencyStats(h?.fromOpen ?? createHistogram()),
    };
  }
  return out;
}

function failureKinds(totals: ReturnType<typeof emptyTotals>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [code, n] of Object.entries(totals.closeCodes)) if (code !== '1000') out[code] = n;
  for (const [status, n] of Object.entries(totals.httpStatus)) out[`http_${status}`] = n;
  for (const kind of ERROR_KINDS) if (totals.errors[kind] > 0) out[kind] = totals.errors[kind];
  if (totals.dropped > 0) out.dropped = totals.dropped;
  return out;
}
