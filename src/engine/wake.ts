/**
 * How a worker sleeps until its next start. Node's timers have 1 ms granularity, and a thread
 * that really sleeps wakes late on a VM, so the last SPIN_MS before a start is spun on
 * setImmediate, which keeps serving sockets meanwhile. Spinning takes CPU from a target on the
 * same machine, so it may use at most a budget (a fraction of each SPIN_WINDOW_MS); past that,
 * starts ride a timer (and socket events) and run ~0.5 ms late.
 *
 * A sleeping thread also reads a socket late: the 101 that wakes it is stamped after the wake-up
 * (docs/performance.md, "Notes moved from engine code"). So with the whole window as budget, a
 * worker stays awake while handshakes it started in the last AWAIT_SPIN_MS are in flight. A
 * partial budget is kept for starts.
 */
export const SPIN_MS = 1.5;
/**
 * The whole window by default: against a target on the same box it kept the lag lower than a
 * quarter of it, at no lower top rate (docs/performance.md, "Notes moved from engine code").
 */
export const DEFAULT_SPIN_BUDGET = 1;
/** The budget when workers would spin on every core: the main thread and a local target need one. */
export const SHARED_SPIN_BUDGET = 0.25;
export const SPIN_WINDOW_MS = 100;
/**
 * How long after a start a worker stays awake for the handshakes in flight. Past ~250 ms a
 * wake-up's 0.3 ms is below what the histograms resolve (3 significant digits: 1/1024 of the
 * value at worst), and a hanging handshake should not keep a core busy for its whole timeout.
 */
export const AWAIT_SPIN_MS = 250;

/**
 * The default budget for `threads` spinning workers (over all shard processes on this machine)
 * on `cpus` cores: the full window while a core is left for the main thread and a target on the
 * same machine (the default CPUs − 1 workers), a quarter of it when there is none, and none for
 * `favoured` workers (a nice below 0 asked for) on every core: spinning there starved a local
 * target (docs/performance.md, "Favoured workers and a deeper accept queue").
 */
export function defaultSpinBudget(threads: number, cpus: number, favoured = false): number {
  if (leavesACore(threads, cpus)) return DEFAULT_SPIN_BUDGET;
  return favoured ? 0 : SHARED_SPIN_BUDGET;
}

/** `threads` spinning workers on `cpus` cores leave one for the main thread and a local target. */
export function leavesACore(threads: number, cpus: number): boolean {
  return threads < cpus;
}

/** What a spin budget must be, in the words every range check uses. */
export const SPIN_EXPECTED = 'a fraction from 0 to 1';

/** A spin budget is a fraction in [0, 1] (false for NaN). */
export function isSpinBudget(budget: number): boolean {
  return budget >= 0 && budget <= 1;
}

/** Throws RangeError unless `budget` is a fraction in [0, 1]. */
export function checkSpinBudget(budget: number): number {
  if (!isSpinBudget(budget)) throw new RangeError(`spin budget ${budget}: expected ${SPIN_EXPECTED}`);
  return budget;
}

export type Wake = { readonly spin: true } | { readonly spin: false; readonly timeoutMs: number };

/** Shared: a worker spinning through its last 1.5 ms asks for this ~100,000 times a second. */
const SPIN: Wake = Object.freeze({ spin: true });

/** Whether handshakes started in the last AWAIT_SPIN_MS are in flight (a worker; a method, not a closure per worker). */
export interface HandshakeWaiter {
  awaitingHandshakes(): boolean;
}

const NOT_AWAITING: HandshakeWaiter = { awaitingHandshakes: () => false };

/**
 * `waitMs` until the next start (Infinity: none waiting; the timeout is then Infinity, and the
 * caller sets no timer), `spunMs` already spun in this window, `budget` in [0, 1], `waiter`
 * tells whether handshakes are in flight. It is asked only when its answer decides (the whole
 * budget, not spent, no start within SPIN_MS): answering may scan.
 */
export function planWake(waitMs: number, spunMs: number, budget = DEFAULT_SPIN_BUDGET, waiter: HandshakeWaiter = NOT_AWAITING): Wake {
  // Already due: the next turn, not a timer (Node turns a 0 ms timeout into 1 ms).
  if (waitMs <= 0) return SPIN;
  const maySpin = spunMs < budget * SPIN_WINDOW_MS;
  if (maySpin && (waitMs <= SPIN_MS || (budget >= 1 && waiter.awaitingHandshakes()))) return SPIN;
  // A timer never fires early: round down, and aim SPIN_MS early when a spin may follow.
  return { spin: false, timeoutMs: Math.max(0, Math.floor(maySpin ? waitMs - SPIN_MS : waitMs)) };
}
