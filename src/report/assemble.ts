import type { TimelineEvent } from '../timeline/types.js';
import { timelineOf, type PhaseTimeline, type ReadySignals, type Restart } from '../timeline/attribute.js';
import { summarizeHealth, type HealthSummary } from '../timeline/health-spans.js';
import type { PhaseSpan } from '../timeline/types.js';
import { sumCuts, type LineCut } from '../util/lines.js';
import { round3 } from '../util/round.js';

export interface TimelineSummary {
  ready: { atMs: number | null; source: string | null; signals: ReadySignals };
  timeline: PhaseSpan[];
  health: HealthSummary | null;
  failed: { atMs: number; reason: string | null; phase: string | null } | null;
  targetExit: { code: number | null; signal: string | null; atMs: number } | null;
  /** target.trigger's command, when it exited during the run; absent when it did not (or there is none). */
  triggerExit?: { code: number | null; signal: string | null; atMs: number; launchedAtMs: number | null };
  /** target.trigger's command, launched and still running when the run ended (a deploy that outlasted it); absent otherwise. */
  triggerRunning?: { launchedAtMs: number };
  /** Log lines longer than LOG_LINE_CAP that the timeline read cut, and the bytes dropped; absent when none was. */
  logCut?: LineCut;
  /** Startups after the first (a restart, a deploy's new revision); absent when there was none. */
  restarts?: Restart[];
}

/** Folds a run's timeline events (epoch ms) into readiness, phase spans, health spans (pure). */
export function summarizeTimeline(events: readonly TimelineEvent[], t0: number, readyFrom: keyof ReadySignals | null): { summary: TimelineSummary; timeline: PhaseTimeline } {
  const { signals, ready, timeline } = timelineOf(events, t0, readyFrom);
  // The first startup's failure: one after a later startup began is that startup's (timeline.restarts).
  const failedEvent = events.filter((e): e is Extract<TimelineEvent, { kind: 'failed' }> => e.kind === 'failed' && e.at - t0 === timeline.failedAtMs)[0];
  let failed: TimelineSummary['failed'] = null;
  if (failedEvent) {
    const atMs = failedEvent.at - t0;
    // The phase it failed in: the last target phase that began before the failure.
    const before = timeline.spans.filter((s) => s.startMs <= atMs && s.phase !== 'failed' && s.phase !== 'ready');
    failed = { atMs, reason: failedEvent.reason ?? null, phase: before.length ? before[before.length - 1].phase : null };
  }
  const exitOf = (source: string) => events.find((e): e is Extract<TimelineEvent, { kind: 'exit' }> => e.kind === 'exit' && e.source === source);
  const exit = exitOf('target');
  const triggerExit = exitOf('trigger');
  const launched = events.find((e) => e.kind === 'deploy');
  const cuts = events.filter((e): e is Extract<TimelineEvent, { kind: 'cut' }> => e.kind === 'cut');
  return {
    timeline,
    summary: {
      ready: { atMs: ready.atMs === null ? null : round3(ready.atMs), source: ready.source, signals: { health: roundOrNull(signals.health), log: roundOrNull(signals.log), supplied: roundOrNull(signals.supplied) } },
      timeline: timeline.spans.map((s) => ({ phase: s.phase, startMs: round3(s.startMs), endMs: s.endMs === null ? null : round3(s.endMs) })),
      health: summarizeHealth(events, t0),
      failed: failed && { ...failed, atMs: round3(failed.atMs) },
      targetExit: exit ? { code: exit.code, signal: exit.signal, atMs: round3(exit.at - t0) } : null,
      ...(cuts.length > 0 ? { logCut: sumCuts(cuts) } : {}),
      ...(triggerExit ? { triggerExit: { code: triggerExit.code, signal: triggerExit.signal, atMs: round3(triggerExit.at - t0), launchedAtMs: launched ? round3(launched.at - t0) : null } } : {}),
      ...(launched && !triggerExit ? { triggerRunning: { launchedAtMs: round3(launched.at - t0) } } : {}),
      ...(timeline.restarts ? { restarts: timeline.restarts.map((r) => ({ startMs: round3(r.startMs), readyAtMs: roundOrNull(r.readyAtMs), failedAtMs: roundOrNull(r.failedAtMs) })) } : {}),
    },
  };
}

function roundOrNull(x: number | null): number | null {
  return x === null ? null : round3(x);
}
