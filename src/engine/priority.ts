import os from 'node:os';

/**
 * A worker thread that spins for its starts asks the kernel to favour it over the process's other
 * threads (the main thread, V8's helpers) and a target on the same machine, which otherwise
 * preempt it and start attempts late. −10, not −20: at −20 the worker took enough from a target on
 * the same machine that the timeline learned of its phases late (docs/performance.md, "Notes moved
 * from engine code").
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
