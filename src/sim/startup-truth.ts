import type { StartupPlan } from './phases.js';
import type { Mark, RaceMarks, StartupRunner } from './startup.js';
import type { Warm } from './stream.js';
import { nowEpochMs } from './truth.js';

/**
 * The truth's `phase` and `mark` lines of a startup as its clock passes them: each transition
 * (`ready` too), the failure with its reason, and the marks the phase lines do not already say.
 * `extra` is added to every line (a rollout's revision).
 */
export function recordStartup(runner: StartupRunner, write: (line: object) => void, sinceT0: (at: number) => number, extra: object = {}): void {
  runner.on('phase', (phase: string, plannedMs: number) => {
    const at = nowEpochMs();
    write({ type: 'phase', ...extra, phase, at, atMs: sinceT0(at), plannedMs });
  });
  runner.on('failed', (reason: string, plannedMs: number) => {
    const at = nowEpochMs();
    write({ type: 'phase', ...extra, phase: 'failed', failedPhase: runner.flags.phase, reason, at, atMs: sinceT0(at), plannedMs });
  });
  runner.on('mark', (mark: Mark, plannedMs: number) => {
    if (mark === 'ready' || mark === 'failed') return; // phase lines say these
    const at = nowEpochMs();
    write({ type: 'mark', ...extra, mark, at, atMs: sinceT0(at), plannedMs });
  });
}

/** The start line's `plan`: the startup's offsets (wall ms after t0), racy's marks and warm-up. */
export function planOfTruth(plan: StartupPlan, marks: RaceMarks, warm: Warm | null): Record<string, unknown> {
  return {
    phases: plan.phases,
    readyAtMs: plan.readyAtMs,
    bridgeReadyAtMs: plan.bridgeReadyAtMs,
    failAtMs: plan.failAtMs,
    failedPhase: plan.failedPhase,
    failReason: plan.failReason,
    ...marks,
    ...(warm === null ? {} : { warmDelayMs: warm.delayMs, warmMs: warm.ms }),
  };
}
