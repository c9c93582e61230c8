import { join } from 'node:path';
import { now } from '../util/clock.js';
import type { Engine } from '../engine/pool.js';
import { TargetProcess } from '../target/process.js';
import type { TimelineEvent } from '../timeline/types.js';
import { RunError } from './errors.js';
import type { RunSettings } from './settings.js';

/** A shard starting this much after the shared start time says so: its clock or its start was off. */
export const START_AT_TOLERANCE_MS = 250;
const ENGINE_READY_TIMEOUT_MS = 30_000;
/** Lead between `go` and the first scheduled attempt when nothing else sets T0. */
const GO_LEAD_MS = 50;

/** T0 until the run knows better: a first attempt just after now. */
export function provisionalT0(): number {
  return now() + GO_LEAD_MS;
}

/** Waits for the worker threads to be ready (warmed up), or fails the run (exit 3). */
export async function engineReady(engine: Engine): Promise<void> {
  const readyTimeout = new Promise<never>((_, reject) => {
    const timer = setTimeout(() => reject(new RunError(`worker threads did not start within ${ENGINE_READY_TIMEOUT_MS / 1000} s`)), ENGINE_READY_TIMEOUT_MS);
    timer.unref();
  });
  await Promise.race([engine.ready, readyTimeout]);
}

/**
 * Shards line up on a shared T0 (`--start-at`): waits for it. One that gets here late (or whose
 * clock is off) says so, and returns by how much (ms); null when on time or unsharded.
 */
export async function waitForStartAt(startAt: number | undefined, onWarning?: (message: string) => void): Promise<number | null> {
  if (startAt === undefined) return null;
  const wait = startAt - now();
  if (wait > 0) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    return null;
  }
  if (-wait <= START_AT_TOLERANCE_MS) return null;
  // Up, not to the nearest: 250.4 ms late past a 250 ms tolerance is reported as 251, never as 250.
  const lateByMs = Math.ceil(-wait);
  onWarning?.(`started ${lateByMs} ms after --start-at (tolerance ${START_AT_TOLERANCE_MS} ms): this shard's clock or start was late; its attempts are still scheduled from the shared T0`);
  return lateByMs;
}

/** The processes a run started, and the T0 they decided. */
export interface Launched {
  t0: number;
  target: TargetProcess | null;
  trigger: TargetProcess | null;
  /** A trigger due mid-run (target.trigger.at) that has not been launched yet. */
  triggerTimer?: NodeJS.Timeout;
}

/**
 * Launches the leader's target and trigger and chooses T0: the target's launch (or the
 * trigger's, when it goes at T0), else the shared start time, else the first scheduled attempt.
 * A trigger with `at` goes that long after T0, a deploy mid-run, and is a `deploy` timeline event.
 */
export function launch(s: RunSettings, outDir: string, startAt: number | undefined, onEvent: (e: TimelineEvent) => void): Launched {
  const { start, trigger: triggerCfg } = s.leader ? s.scenario.target : { start: undefined, trigger: undefined };
  let target: TargetProcess | null = null;
  if (start) {
    target = new TargetProcess({ command: start.command, cwd: start.cwd, env: start.env, stopGraceMs: start.stopGrace, logFile: join(outDir, 'target.log') });
    target.on('exit', (e: { code: number | null; signal: NodeJS.Signals | null; at: number }) => onEvent({ kind: 'exit', source: 'target', at: e.at, code: e.code, signal: e.signal }));
  }
  const launchTrigger = (): TargetProcess => {
    const trigger = new TargetProcess({ command: triggerCfg!.command, stopGraceMs: 1000, logFile: join(outDir, 'trigger.log'), keepRunning: true });
    onEvent({ kind: 'deploy', source: 'trigger', at: trigger.startedAt });
    // A deploy command that fails (auth, quota) leaves a run where nothing happened: the findings say so.
    trigger.on('exit', (e: { code: number | null; signal: NodeJS.Signals | null; at: number }) => onEvent({ kind: 'exit', source: 'trigger', at: e.at, code: e.code, signal: e.signal }));
    return trigger;
  };
  if (triggerCfg && triggerCfg.at === undefined) {
    const trigger = launchTrigger();
    return { t0: target?.startedAt ?? trigger.startedAt, target, trigger };
  }
  const launched: Launched = { t0: target?.startedAt ?? startAt ?? now() + GO_LEAD_MS, target, trigger: null };
  if (triggerCfg) {
    // Node's timers count whole ms from the loop's cached time and may fire up to 1 ms early:
    // a deploy due at `at` waits out the rest, so it never launches before it.
    const due = launched.t0 + triggerCfg.at!;
    const fire = (): void => {
      if (now() < due) launched.triggerTimer = setTimeout(fire, Math.ceil(due - now()));
      else launched.trigger = launchTrigger();
    };
    launched.triggerTimer = setTimeout(fire, Math.max(0, due - now()));
  }
  return launched;
}

/** Stops the target; a trigger (a deploy) is waited for by nobody and never killed; one not yet due is not launched. */
export async function release(launched: Launched | null): Promise<void> {
  if (launched?.triggerTimer) clearTimeout(launched.triggerTimer);
  await launched?.target?.stop();
  launched?.trigger?.release();
}
