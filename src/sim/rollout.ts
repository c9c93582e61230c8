import type { DrainMode, Strategy } from './config.js';
import type { StartupPlan } from './phases.js';
import type { RaceMarks } from './startup.js';
import { round3 } from '../util/round.js';

/**
 * The rollout profile's decisions, pure so they can be tested exactly: when traffic moves from
 * revision A (ready from the start) to revision B (a cold start at rollout-at), when A drains,
 * and how each of A's sockets is closed. Offsets are wall ms after the simulator's t0.
 *
 *  rolling   (Cloud Run, a Kubernetes rolling update): traffic moves when B's /health says
 *            ready — the platform's view, which in racy is raceWindow before B's bridge works —
 *            and A drains from that moment. If B never becomes ready (`--new broken`), traffic
 *            never moves and A keeps serving: nothing drains, nobody is dropped.
 *  recreate  (Kubernetes `Recreate`, a deploy that replaces the instance in place): A drains
 *            from rollout-at and traffic moves to B at once, so the herd lands on B's cold
 *            start; with `--new broken` every dropped client meets 503 until it gives up.
 */

export interface RolloutPlan {
  strategy: Strategy;
  /** B's cold start begins. */
  rolloutAtMs: number;
  /** New upgrades (and /health) go to B from here; null: never (rolling, B never healthy). */
  switchAtMs: number | null;
  /** A's first close; null when it never drains. */
  drainAtMs: number | null;
  /** A's closes are spread evenly over this long. */
  drainOverMs: number;
  drain: DrainMode;
}

/** B's startup plan on the simulator's clock: every offset moved `byMs` later. */
export function shiftPlan(plan: StartupPlan, byMs: number): StartupPlan {
  const at = (ms: number) => round3(ms + byMs);
  const opt = (ms: number | undefined) => (ms === undefined ? undefined : at(ms));
  const shifted: StartupPlan = {
    ...plan,
    phases: plan.phases.map((p) => ({ ...p, startMs: at(p.startMs), endMs: at(p.endMs) })),
    endMs: at(plan.endMs),
  };
  for (const key of ['failAtMs', 'readyAtMs', 'bridgeReadyAtMs'] as const) if (plan[key] !== undefined) shifted[key] = opt(plan[key]);
  return shifted;
}

/** B's racy marks never before its own start: a race window longer than its startup makes /health say ready at rollout-at, not earlier. */
export function rolloutMarks(marks: RaceMarks, rolloutAtMs: number): RaceMarks {
  const out: RaceMarks = {};
  if (marks.healthReadyAtMs !== undefined) out.healthReadyAtMs = Math.max(rolloutAtMs, marks.healthReadyAtMs);
  if (marks.lossWindowAtMs !== undefined) out.lossWindowAtMs = Math.max(rolloutAtMs, marks.lossWindowAtMs);
  return out;
}

/** When traffic moves and A drains, from the strategy and B's (shifted) health mark. */
export function planRollout(strategy: Strategy, rolloutAtMs: number, bMarks: RaceMarks, drain: DrainMode, drainOverMs: number): RolloutPlan {
  const switchAtMs = strategy === 'recreate' ? rolloutAtMs : (bMarks.healthReadyAtMs ?? null);
  return { strategy, rolloutAtMs, switchAtMs, drainAtMs: switchAtMs, drainOverMs, drain };
}

/** When the k-th of n sockets closes, after the drain's start: k·over/n, the first at once. */
export function drainOffset(k: number, n: number, overMs: number): number {
  return n <= 0 ? 0 : round3((k * overMs) / n);
}

export type DrainClose = { kind: 'close'; code: 1012 | 1001; reason: string } | { kind: 'cut' };

/** What A does to one socket: a close frame (1012 Service Restart, 1001 Going Away, with a reason) or a cut. */
export function drainClose(mode: DrainMode): DrainClose {
  if (mode === 'cut') return { kind: 'cut' };
  return mode === '1012' ? { kind: 'close', code: 1012, reason: 'Service restarting: revision rollout' } : { kind: 'close', code: 1001, reason: 'Going away: revision rollout' };
}
