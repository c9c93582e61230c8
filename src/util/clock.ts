import { performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

/** Date.now() ticks read at most to place the origin. */
const MAX_TICKS = 8;
/** Two ticks whose estimates agree this closely were both read promptly: their origin is trusted. */
const AGREE_MS = 0.1;
/** The longest one tick is waited for: a wall clock that does not move in this is left alone. */
const TICK_WAIT_MS = 5;

/**
 * Where a monotonic clock's 0 falls in epoch ms. At the instant Date.now() ticks, the wall clock
 * is exactly on that millisecond, so the origin is the tick less the monotonic clock read right
 * after it. A tick read late (the thread preempted at it) gives an estimate too early, never too
 * late, so the largest estimate is the best; it is trusted once a second one agrees with it within
 * AGREE_MS. `fallback` stays when no two of MAX_TICKS agree, or the wall clock does not tick.
 */
export function calibrateOrigin(fallback: number, wall: () => number = Date.now, mono: () => number = () => performance.now()): number {
  return calibrated(wall, mono) ?? fallback;
}

/** calibrateOrigin's estimate, or null when no two ticks agreed. */
function calibrated(wall: () => number, mono: () => number): number | null {
  const estimates: number[] = [];
  for (let k = 0; k < MAX_TICKS; k++) {
    const estimate = nextTick(wall, mono);
    if (estimate === null) return null;
    estimates.push(estimate);
    const best = Math.max(...estimates);
    if (estimates.filter((e) => best - e <= AGREE_MS).length >= 2) return best;
  }
  return null;
}

/** Waits for Date.now() to tick and returns the tick less the monotonic clock read right after it; null after TICK_WAIT_MS without one. */
function nextTick(wall: () => number, mono: () => number): number | null {
  const from = wall();
  const giveUpAt = mono() + TICK_WAIT_MS;
  for (;;) {
    const w = wall();
    const m = mono();
    if (w !== from) return w - m;
    if (m > giveUpAt) return null;
  }
}

/** CLOCK_MONOTONIC in ms: one clock for every thread and process of the machine (performance.now() counts on it from its thread's start). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Brackets read at most to place a thread's performance.now() on the monotonic clock. */
const MAX_BRACKETS = 16;
/** A bracket this narrow was not preempted: read no more. */
const TIGHT_MS = 0.005;

/**
 * Where this thread's performance.now() 0 falls on the monotonic clock: performance.now() read
 * between two readings of the monotonic clock, the narrowest of up to MAX_BRACKETS brackets (a
 * bracket the thread was preempted in is wide, and loses).
 */
export function threadMonotonicOrigin(mono: () => number = monotonicMs, perf: () => number = () => performance.now()): number {
  let best = Infinity;
  let origin = 0;
  for (let k = 0; k < MAX_BRACKETS && best > TIGHT_MS; k++) {
    const before = mono();
    const p = perf();
    const after = mono();
    if (after - before < best) [best, origin] = [after - before, (before + after) / 2 - p];
  }
  return origin;
}

/** The variable a process hands its calibrated wall − monotonic offset on in, to its worker threads and child processes. */
export const CLOCK_OFFSET_ENV = 'WSRACE_CLOCK_OFFSET_MS';

/** How far a calibration may sit from the inherited offset and the inherited one still be kept: a calibration's own spread is ±0.1 ms. */
const OFFSET_TOLERANCE_MS = 0.25;

/**
 * The offset a process's main thread uses: an inherited one (its parent's), so that the processes
 * of a run share one, unless this process's own calibration sits more than OFFSET_TOLERANCE_MS
 * from it (the parent's ticks read late, its calibration failed and it handed on Node's origin,
 * or the wall clock stepped since). Without an inherited one, the own calibration, else Node's.
 */
export function chooseOffset(inherited: number | undefined, own: number | null, node: number): number {
  if (inherited === undefined) return own ?? node;
  return own !== null && Math.abs(own - inherited) > OFFSET_TOLERANCE_MS ? own : inherited;
}

/** The offset in `env`, if it holds a number. */
export function inheritedOffset(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[CLOCK_OFFSET_ENV];
  const value = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * This thread's wall − monotonic offset. Node pairs a thread's start on the monotonic clock with
 * the wall clock read at another moment, so a thread preempted between the two gets an origin off
 * by the preemption (33 ms in one of 75 processes started at once under load), and a calibration
 * on a starved thread may find no two ticks that agree. So the main thread calibrates once and
 * hands its offset on in the environment (Node's, when its own ticks did not agree: the threads of
 * a process then at least agree with each other): a worker thread takes its process's as it is,
 * and a child process checks its parent's. Every thread and process of a run then shares one.
 */
function threadOffset(monoOrigin: number): number {
  const inherited = inheritedOffset();
  if (!isMainThread && inherited !== undefined) return inherited;
  const offset = chooseOffset(inherited, calibrated(Date.now, monotonicMs), performance.timeOrigin - monoOrigin);
  if (isMainThread) process.env[CLOCK_OFFSET_ENV] = String(offset);
  return offset;
}

const MONO_ORIGIN = threadMonotonicOrigin();

/** Where this thread's performance clock's 0 falls in epoch ms: fixed for the life of a thread (the getter of Node's allocates on every call). */
export const TIME_ORIGIN = threadOffset(MONO_ORIGIN) + MONO_ORIGIN;

/**
 * Epoch milliseconds with sub-millisecond resolution, on one clock shared by the main
 * thread and every worker (each thread has its own origin, but the sum is wall time),
 * so attempts, timeline events and the simulator's truth file line up.
 */
export function now(): number {
  return TIME_ORIGIN + performance.now();
}
