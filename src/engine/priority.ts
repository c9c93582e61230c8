import os from 'node:os';

/**
 * A worker thread that spins for its starts asks the kernel to favour it over the process's other
 * threads (the main thread, V8's helpers) and a target on the same machine, which otherwise
 * preempt it and start attempts late. Measured on 2 cores at 1,650/s against the bench's echo
 * server (bench/probe.mjs, 4 s runs, interleaved): schedule lag p99 0.68–2.0 ms at nice −10
 * against 0.98–4.3 ms at 0, lower in 15 of 15 pairs; at −5 1.3–2.3 ms. At 2,139/s (half the top
 * rate of the bench of 12:35): 1.14–2.49 ms at −20 against 1.31–2.65 at −10 in the 9 runs of
 * each that kept up, lower in 8 of 10 pairs (one run of each fell behind, by 48 and 122 ms),
 * and the worker waited for a CPU 40–70 ms a run against 20–130. The preemptions it still
 * suffers are 2–7 ms, a time slice of a thread the kernel placed on its core. Past the top
 * rate both fall behind (4,000/s, 3 pairs: sustained lag p99 3.6–17.6 ms at −20, 5.2 ms–3.5 s
 * at −10; at 3,000/s, −10 by 4 ms–1.4 s, median 21 ms, and nice 0 by 8–91 ms, median 67).
 *
 * −10, not −20: at −20 the worker took enough from a target on the same machine that the
 * timeline learned of its phases late. test/coldstart.test.ts (the built-in simulator, phases
 * from its log against its truth file) failed 4 times in 15 runs at −20, once in CI: an attempt
 * over 25 ms past a boundary was put in the phase before the truth's, known late. At −10 it
 * failed 0 times in 6 (interleaved with 6 of those at −20).
 *
 * Linux only: there nice is per thread, and setPriority(0) names the calling thread (elsewhere it
 * would renice the whole process). Raising it needs CAP_SYS_NICE (root outside a container, or
 * a container given it) or a high enough RLIMIT_NICE; without them the thread keeps its nice.
 * A target in another session (wsrace spawns `target.command` detached) may sit in its own
 * scheduling autogroup, where nice does not weigh against it.
 */
export const WORKER_NICE = -10;

/**
 * Tries to run the calling thread at `wanted` unless it already runs at that or higher (a lower
 * nice); returns the nice it runs at (null: unknown). Threads it creates afterwards inherit it.
 */
export function raiseThreadPriority(wanted = WORKER_NICE): number | null {
  const current = threadPriority();
  if (current === null || current <= wanted) return current;
  try {
    os.setPriority(0, wanted);
  } catch {
    // EACCES/EPERM without the privilege (root with CAP_SYS_NICE, or RLIMIT_NICE): the nice stays
  }
  return threadPriority();
}

/** The calling thread's nice on Linux (null elsewhere, or if it cannot be read). */
export function threadPriority(): number | null {
  if (process.platform !== 'linux') return null;
  try {
    return os.getPriority(0);
  } catch {
    return null;
  }
}
