import { performance } from 'node:perf_hooks';

/** Date.now() ticks read to place the origin; the latest of them is the least late. */
const CALIBRATION_TICKS = 3;
/** The longest one tick is waited for: a wall clock that does not move in this is left alone. */
const TICK_WAIT_MS = 5;

/**
 * Where this thread's performance clock's 0 falls in epoch ms. Node pairs the thread's start on
 * the monotonic clock with the wall clock read at a slightly different moment, so a thread
 * preempted between the two readings (a busy machine starting many processes) gets an origin off
 * by that preemption: 33 ms in one of 75 processes started at once under load. At the instant
 * Date.now() ticks, the wall clock is exactly on that millisecond, so the origin is the tick less
 * performance.now() read right after it: now() then reads ~20 µs behind the wall clock (the read
 * itself), in every thread alike.
 * `fallback` (performance.timeOrigin) stays when the wall clock does not tick (a frozen clock).
 */
export function calibrateOrigin(fallback: number, wall: () => number = Date.now, mono: () => number = () => performance.now()): number {
  let best = -Infinity;
  for (let k = 0; k < CALIBRATION_TICKS; k++) {
    const from = wall();
    const giveUpAt = mono() + TICK_WAIT_MS;
    for (;;) {
      const w = wall();
      const m = mono();
      if (w !== from) {
        best = Math.max(best, w - m);
        break;
      }
      if (m > giveUpAt) return fallback;
    }
  }
  return best;
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
