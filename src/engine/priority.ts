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

/** The range of a nice on Linux: −20 (favoured most) to 19. */
export const NICE_MIN = -20;
export const NICE_MAX = 19;

/** What a nice must be, in the words every range check uses. */
export const NICE_EXPECTED = `a whole number from ${NICE_MIN} to ${NICE_MAX}`;

/** A nice the user may ask for (`run --nice N`): a whole number from −20 to 19. */
export function isNice(n: number): boolean {
  return Number.isInteger(n) && n >= NICE_MIN && n <= NICE_MAX;
}

/**
 * The nice a worker thread asks for. `exact`: the user asked for it (`--nice`) and gets it, up or
 * down; otherwise it is wsrace's own favour (WORKER_NICE), taken only as a raise, never lowering a
 * thread a user already started at a lower nice.
 */
export interface NicePlan {
  nice: number;
  exact: boolean;
}

/**
 * What the workers ask for: the nice given (`--nice`) exactly; else WORKER_NICE, as a raise, when
 * they spin on the whole budget with a core left for the rest (`leavesCore`); else nothing.
 */
export function nicePlan(given: number | undefined, spinBudget: number, leavesCore: boolean): NicePlan | null {
  if (given !== undefined) return { nice: given, exact: true };
  return spinBudget >= 1 && leavesCore ? { nice: WORKER_NICE, exact: false } : null;
}

/** Throws RangeError unless `nice` is a whole number from −20 to 19 (a library caller's bad value is not a silent no-op). */
export function checkNice(nice: number): number {
  if (!isNice(nice)) throw new RangeError(`nice ${nice}: expected ${NICE_EXPECTED}`);
  return nice;
}

/**
 * Runs the calling thread at the plan's nice (a favour only raises it) and returns the nice it
 * runs at (null: unknown). Threads it creates afterwards inherit it. A lower nice than the
 * process's needs the privilege above; without it the thread keeps its nice (the caller compares).
 */
export function applyNice(plan: NicePlan | null): number | null {
  const current = threadPriority();
  if (plan === null || current === null || current === plan.nice || (!plan.exact && current < plan.nice)) return current;
  try {
    os.setPriority(0, plan.nice);
  } catch (err) {
    // Without the privilege (CAP_SYS_NICE, or RLIMIT_NICE) the nice stays; anything else is a bug.
    const code = (err as { info?: { code?: string } }).info?.code;
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
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

/**
 * What to tell a user whose `--nice` the workers did not get, or null. `got`: each worker's nice
 * once ready, null for a worker that failed before it (left out); `spinBudget`: the run's, since a
 * nice below 0 on every core defaults it to 0, which without the favour only starts late. Only an
 * exact plan is promised; a favour that was refused is said in `workers[].nice` alone.
 */
export function niceShortfall(plan: NicePlan | null, got: readonly (number | null)[], spinBudget: number, platform: string = process.platform): string | null {
  if (!plan?.exact) return null;
  if (platform !== 'linux') return `--nice ${plan.nice}: a thread's nice can be set on Linux only; the workers keep their priority`;
  const known = got.filter((n): n is number => n !== null);
  const missed = known.filter((n) => n !== plan.nice);
  if (missed.length === 0) return null;
  const spin = plan.nice < 0 && spinBudget === 0 ? ', still without spinning (give --spin 0.25 for the default without the favour)' : '';
  return `--nice ${plan.nice}: ${missed.length} of ${known.length} worker threads run at ${[...new Set(missed)].join(', ')} instead (a nice below the process's needs CAP_SYS_NICE, which root has outside a container, or a high enough RLIMIT_NICE); the run goes on${spin}`;
}
