/**
 * How a worker sleeps until its next start. Node's timers have 1 ms granularity (and a thread
 * that really sleeps wakes late on a VM), so the last SPIN_MS before a start is spun on
 * setImmediate, which keeps serving sockets meanwhile. Spinning takes CPU from a target on the
 * same machine and from the main thread, so it may use at most SPIN_BUDGET of each
 * SPIN_WINDOW_MS; past that, starts ride a timer (and socket events) and run ~0.5 ms late.
 */
export const SPIN_MS = 1.5;
export const SPIN_BUDGET = 0.25;
export const SPIN_WINDOW_MS = 100;

export type Wake = { spin: true } | { spin: false; timeoutMs: number };

/** `waitMs` until the next start, `spunMs` already spun in this window. */
export function planWake(waitMs: number, spunMs: number): Wake {
  // Already due: the next turn, not a timer (Node turns a 0 ms timeout into 1 ms).
  if (waitMs <= 0) return { spin: true };
  const maySpin = spunMs < SPIN_BUDGET * SPIN_WINDOW_MS;
  if (maySpin && waitMs <= SPIN_MS) return { spin: true };
  // A timer never fires early: round down, and aim SPIN_MS early when a spin may follow.
  return { spin: false, timeoutMs: Math.max(0, Math.floor(maySpin ? waitMs - SPIN_MS : waitMs)) };
}
