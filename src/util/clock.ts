import { performance } from 'node:perf_hooks';

/**
 * Epoch milliseconds with sub-millisecond resolution, on one clock shared by the main
 * thread and every worker (each thread has its own timeOrigin, but the sum is wall time),
 * so attempts, timeline events and the simulator's truth file line up.
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
