import { now } from '../util/clock.js';
import type { LoadedScenario } from '../scenario/load.js';
import { scheduleDurationMs } from '../schedule/arrival.js';
import { Engine } from '../engine/pool.js';
import { niceShortfall } from '../engine/priority.js';
import { checkResolvable } from './preflight.js';
import { engineOptions, openRunFolder, resolveSettings } from './settings.js';
import { Recorder } from './recorder.js';
import { LiveTimeline } from './live-timeline.js';
import { engineReady, launch, provisionalT0, release, waitForStartAt, type Launched } from './t0.js';
import { finish } from './finish.js';
import { exportSettings, LiveMetrics } from './live-metrics.js';
import type { RunOptions, RunResult } from './options.js';
import type { Threshold } from '../scenario/thresholds.js';
import { AbortWatch, abortedLine } from './abort.js';
import { uncapWorkerThreads } from './node-flags.js';

export type { RunOptions, RunResult } from './options.js';
export type { Progress } from './recorder.js';
export { START_AT_TOLERANCE_MS } from './t0.js';
export { connectionSettings, defaultOutDir, defaultWorkers, plannedLifeMs, stepSpecs } from './settings.js';

/** Runs a loaded scenario end to end and writes its run folder. The CLI is a thin layer over this. */
export async function runScenario(loaded: LoadedScenario, options: RunOptions = {}): Promise<RunResult> {
  uncapWorkerThreads();
  const settings = resolveSettings(loaded, options);
  if (!settings.scenario.target.start && !settings.scenario.target.trigger) await checkResolvable(settings.connection.url);
  const startedAt = new Date();
  const outDir = openRunFolder(settings, options, startedAt);
  options.onStart?.({ outDir, scheduled: settings.scheduled, onReadyBurst: settings.burst?.burst ?? 0, workers: settings.workers, capacity: settings.plan.capacity });

  const { stream, serverSeq } = settings.connection;
  const recorder = new Recorder(outDir, settings.workers, provisionalT0(), stream !== null || serverSeq !== null, stream !== null && stream.everyMs > 0, settings.connection.servedAfterMs);
  const wanted = exportSettings(settings, options);
  const metered = wanted ? new LiveMetrics(recorder, settings, outDir, wanted, options.onWarning ?? ((m) => process.emitWarning(`wsrace: ${m}`))) : null;
  const engine = new Engine(engineOptions(settings), metered ?? recorder);
  const live = new LiveTimeline(settings, outDir, engine);
  let launched: Launched | null = null;
  let lateByMs: number | null;
  const interrupt = new Interrupt(options, live, engine);
  recorder.afterInterval = watchThresholds(settings.loaded.thresholds, recorder, engine, interrupt, options);
  let progress: NodeJS.Timeout | null = null;
  try {
    await metered?.start();
    await engineReady(engine);
    const shortfall = niceShortfall(settings.nice, engine.workers.map((w) => (w.error === null ? w.nice : null)), settings.spinBudget);
    if (shortfall) (options.onWarning ?? ((m) => process.emitWarning(`wsrace: ${m}`)))(shortfall);
    lateByMs = await waitForStartAt(options.startAt, options.onWarning);
    // T0: the target's launch (or the trigger's), else the shared start, else the first attempt.
    launched = launch(settings, outDir, options.startAt, live.add);
    recorder.begin(launched.t0, live);
    metered?.begin(launched.t0, live, () => engine.open, engine.histograms);
    live.begin(launched.t0, launched.target);
    const scheduleStart = launched.t0 + settings.scenario.load.startAfter;
    const goAt = Math.max(scheduleStart, now() + 1);
    engine.go(goAt, launched.t0);
    live.sealAt(scheduleStart + scheduleDurationMs(settings.stages));
    interrupt.begin(launched.t0, goAt);
    progress = setInterval(() => options.onProgress?.(recorder.progress(settings.scheduled + live.burstSent, engine.open, settings.clients)), 1000);
    await engine.finished;
  } catch (err) {
    await metered?.exports.close();
    throw err;
  } finally {
    if (progress) clearInterval(progress);
    live.cancelSealTimer();
    interrupt.detach();
    await shutDown(engine, live, launched, recorder);
  }
  // The final pushes carry the last values; summary.json then says what each way out delivered.
  await metered?.end(engine.lostRecords(), engine.open);
  const result = await finish({ settings, outDir, startedAt, t0: launched.t0, engine, recorder, live, lateByMs, interruptedBy: interrupt.reason, abortedBy: interrupt.abortedBy, exports: metered?.report() }).catch(async (err: unknown) => {
    await metered?.exports.close();
    throw err;
  });
  await metered?.exports.linger(options.signal);
  return result;
}

/** Stops, in order: the workers (so no record arrives after the files close), the sources, the target, the files. */
async function shutDown(engine: Engine, live: LiveTimeline, launched: Launched | null, recorder: Recorder): Promise<void> {
  // A dead worker's records still queued on its port are dropped and counted as lost. The target
  // must still be stopped and the files closed whatever happens here.
  await engine.close().catch((err: unknown) => process.emitWarning(`wsrace: closing the worker pool failed: ${err instanceof Error ? err.message : String(err)}`));
  await live.stopSources();
  await release(launched);
  await recorder.close();
  await live.close();
}

/** The scenario's abortOnFail thresholds, checked whenever a worker's interval is merged: the first to fail stops the run. */
function watchThresholds(thresholds: readonly Threshold[], recorder: Recorder, engine: Engine, interrupt: Interrupt, options: RunOptions): (() => void) | null {
  const watch = new AbortWatch(thresholds, recorder.totals, engine.histograms, (a) => {
    options.onWarning?.(abortedLine(a));
    options.onAbort?.(a);
    interrupt.abort(a.expr);
  });
  interrupt.watch = watch;
  // After the tick's message is handled, so the last worker's `done` is seen: a run with nothing
  // left to stop is not stopped (its thresholds still fail it at the end).
  const check = () => {
    if (!interrupt.stopping && engine.workers.some((w) => !w.done)) watch.check();
  };
  return watch.active ? () => queueMicrotask(check) : null;
}

/**
 * Stopping early, gracefully: no burst any more, open sockets closed with 1001. Aborting the run's
 * signal (Ctrl-C) stops it; so does an abortOnFail threshold that fails, here or (abortSignal) in
 * another shard.
 */
class Interrupt {
  /** The signal's reason once aborted (SIGINT, SIGTERM …). */
  reason: string | null = null;
  /** The expression of the abortOnFail threshold that stopped the run. */
  abortedBy: string | null = null;
  watch: AbortWatch | null = null;
  private readonly onAbort = () => {
    this.reason ??= String(this.options.signal?.reason ?? 'interrupted');
    this.stop();
  };
  private readonly onSiblingAbort = () => this.abort(String(this.options.abortSignal?.reason));

  constructor(
    private readonly options: Pick<RunOptions, 'signal' | 'abortSignal'>,
    private readonly live: LiveTimeline,
    private readonly engine: Engine,
  ) {}

  /** The run has started: thresholds may be checked, and stops are heard. */
  begin(t0: number, scheduleStart: number): void {
    this.watch?.begin(t0, scheduleStart);
    const { signal, abortSignal } = this.options;
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
    if (abortSignal?.aborted) this.onSiblingAbort();
    else abortSignal?.addEventListener('abort', this.onSiblingAbort, { once: true });
  }

  /** Stopping already: by a signal or a threshold. */
  get stopping(): boolean {
    return this.reason !== null || this.abortedBy !== null;
  }

  /** An abortOnFail threshold failed: stop, unless the run is stopping already. */
  abort(expr: string): void {
    if (this.stopping) return;
    this.abortedBy = expr;
    this.stop();
  }

  detach(): void {
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.options.abortSignal?.removeEventListener('abort', this.onSiblingAbort);
  }

  private stop(): void {
    this.live.seal();
    this.engine.stop();
  }
}
