/** Where a timeline event came from. */
export type TimelineSource = 'log' | 'health' | 'target' | 'supplied' | 'trigger';

/**
 * One thing learned about the target's startup. Times are epoch ms on the shared clock.
 * - phase: the target entered a startup phase; `sentAt` (a health probe's): when the probe was
 *   sent, so the phase describes the target at some moment from then to `at`;
 * - ready / failed: a readiness or failed-startup signal;
 * - probe: one health probe (status null = no answer);
 * - exit: the spawned target (source `target`) or the trigger (source `trigger`: the deploy command) exited;
 * - cut: when the log source stopped, how many lines it had cut at LOG_LINE_CAP and the bytes dropped;
 * - deploy: a trigger launched mid-run (target.trigger.at): phases after it are a new revision's startup.
 */
export type TimelineEvent =
  | { kind: 'phase'; source: TimelineSource; at: number; phase: string; sentAt?: number }
  | { kind: 'ready'; source: TimelineSource; at: number }
  | { kind: 'failed'; source: TimelineSource; at: number; reason?: string }
  | { kind: 'probe'; source: 'health'; at: number; status: number | null; latencyMs: number; phase?: string; error?: string }
  | { kind: 'exit'; source: 'target' | 'trigger'; at: number; code: number | null; signal: string | null }
  | { kind: 'cut'; source: 'log'; at: number; lines: number; bytes: number }
  | { kind: 'deploy'; source: 'trigger'; at: number };

/** A phase span on the run's time axis, in ms since T0. */
export interface PhaseSpan {
  phase: string;
  startMs: number;
  endMs: number | null;
}
