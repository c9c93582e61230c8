import { performance } from 'node:perf_hooks';

/** Date.now() ticks read at most to place the origin. */
const MAX_TICKS = 8;
/** Two ticks whose estimates agree this closely were both read promptly: their origin is trusted. */
const AGREE_MS = 0.1;
/** The longest one tick is waited for: a wall clock that does not move in this is left alone. */
const TICK_WAIT_MS = 5;

/**
 * Where this thread's performance clock's 0 falls in epoch ms. Node pairs the thread's start on
 * the monotonic clock with the wall clock read at another moment, so a thread preempted between
 * the two readings (a busy machine starting many processes) gets an origin off by that
 * preemption: 33 ms in one of 75 processes started at once under load. At the instant Date.now()
 * ticks, the wall clock is exactly on that millisecond, so the origin is the tick less
 * performance.now() read right after it. A tick read late (the thread preempted at it) gives an
 * estimate too early, never too late, so the largest estimate is the best; it is trusted once a
 * second one agrees with it within AGREE_MS. `fallback` (performance.timeOrigin) stays when no two
 * of MAX_TICKS agree, or the wall clock does not tick (a frozen clock).
 */
export function calibrateOrigin(fallback: number, wall: () => number = Date.now, mono: () => number = () => performance.now()): number {
  const estimates: number[] = [];
  for (let k = 0; k < MAX_TICKS; k++) {
    const estimate = nextTick(wall, mono);
    if (estimate === null) return fallback;
    estimates.push(estimate);
    const best = Math.max(...estimates);
    if (estimates.filter((e) => best - e <= AGREE_MS).length >= 2) return best;
  }
  return fallback;
}

/** Waits for Date.now() to tick and returns the tick less performance.now() read right after it; null after TICK_WAIT_MS without one. */
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

/** How far Node's origin may sit from the calibrated one and still be kept: the calibration's own spread was ±0.1 ms. */
const ORIGIN_TOLERANCE_MS = 0.25;

/** Node's origin, unless the wall clock's ticks place it more than ORIGIN_TOLERANCE_MS away: then theirs. */
export function checkedOrigin(nodeOrigin: number, wall: () => number = Date.now, mono: () => number = () => performance.now()): number {
  const calibrated = calibrateOrigin(nodeOrigin, wall, mono);
  return Math.abs(calibrated - nodeOrigin) > ORIGIN_TOLERANCE_MS ? calibrated : nodeOrigin;
}

/** Fixed for the life of a thread: read once (the getter allocates on every call; cost: docs/performance.md) and checked against the wall clock. */
export const TIME_ORIGIN = checkedOrigin(performance.timeOrigin);

/**
 * Epoch milliseconds with sub-millisecond resolution, on one clock shared by the main
 * thread and every worker (each thread has its own origin, but the sum is wall time),
 * so attempts, timeline events and the simulator's truth file line up.
 */
export function now(): number {
  return TIME_ORIGIN + performance.now();
}
