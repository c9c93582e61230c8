import { performance } from 'node:perf_hooks';

/** Fixed for the life of a thread; read once, as the getter allocates on every call (cost: docs/performance.md). */
const TIME_ORIGIN = performance.timeOrigin;

/**
 * Epoch milliseconds with sub-millisecond resolution, on one clock shared by the main
 * thread and every worker (each thread has its own timeOrigin, but the sum is wall time),
 * so attempts, timeline events and the simulator's truth file line up.
 */
export function now(): number {
  return TIME_ORIGIN + performance.now();
}
