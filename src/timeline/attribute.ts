import type { PhaseSpan, TimelineEvent, TimelineSource } from './types.js';

/** Phase names wsrace itself uses around the target's own. */
export const UNKNOWN = 'unknown';
export const READY = 'ready';
export const FAILED = 'failed';

/**
 * The authoritative timeline of one run, in ms since T0: the target's phases in order, then
 * `ready` from the moment readiness was observed (or `failed` from a failed-startup signal).
 * Everything before the first observed phase is `unknown`.
 */
export interface PhaseTimeline {
  spans: PhaseSpan[];
  readyAtMs: number | null;
  failedAtMs: number | null;
}

export interface ReadySignals {
  health: number | null;
  log: number | null;
  supplied: number | null;
}

/** The earliest ready time (ms since T0) reported by each source, in whatever order events came. */
export function readySignals(events: readonly TimelineEvent[], t0: number): ReadySignals {
  const first = (source: TimelineSource) => {
    let at = Infinity;
    for (const e of events) if (e.kind === 'ready' && e.source === source && e.at < at) at = e.at;
    return Number.isFinite(at) ? at - t0 : null;
  };
  return { health: first('health'), log: first('log'), supplied: first('supplied') };
}

/** Which source's readiness counts: the one asked for, else health, else log, else supplied. */
export function pickReady(signals: ReadySignals, preferred?: keyof ReadySignals): { atMs: number | null; source: keyof ReadySignals | null } {
  const order: (keyof ReadySignals)[] = preferred ? [preferred] : ['health', 'log', 'supplied'];
  for (const source of order) if (signals[source] !== null) return { atMs: signals[source], source };
  return { atMs: null, source: preferred ?? null };
}

/**
 * Builds the phase timeline from events. Phase events from every source are merged in time
 * order (a phase seen by two sources starts at its earliest sighting); a repeated phase name
 * does not open a new span. Phases seen after readiness do not reopen startup. Lines of one
 * read of a log share one time: a phase at the very time startup ended counts when it came
 * before the event that ended it (`-> dependencies` then `STARTUP FAILED` in one read).
 */
export function buildTimeline(events: readonly TimelineEvent[], t0: number, readyAtMs: number | null): PhaseTimeline {
  const failed = events.filter((e) => e.kind === 'failed').sort((a, b) => a.at - b.at)[0];
  const failedAtMs = failed ? failed.at - t0 : null;
  const end = [readyAtMs, failedAtMs].filter((x): x is number => x !== null).reduce((a, b) => Math.min(a, b), Infinity);
  const endIndex = events.findIndex((e) => (e.kind === 'failed' || e.kind === 'ready') && e.at - t0 === end);
  const phases = events
    .map((e, index) => ({ e, index }))
    .filter((x): x is { e: Extract<TimelineEvent, { kind: 'phase' }>; index: number } => x.e.kind === 'phase')
    .map(({ e, index }) => ({ phase: e.phase, at: e.at - t0, index }))
    .filter((e) => (e.at < end || (e.at === end && e.index < endIndex)) && e.phase !== READY && e.phase !== FAILED)
    .sort((a, b) => a.at - b.at);
  const spans: PhaseSpan[] = [];
  const seen = new Set<string>();
  for (const p of phases) {
    if (seen.has(p.phase)) continue;
    seen.add(p.phase);
    const last = spans[spans.length - 1];
    if (last) last.endMs = p.at;
    spans.push({ phase: p.phase, startMs: p.at, endMs: null });
  }
  const last = spans[spans.length - 1];
  if (last && Number.isFinite(end)) last.endMs = end;
  if (readyAtMs !== null && (failedAtMs === null || readyAtMs < failedAtMs)) spans.push({ phase: READY, startMs: readyAtMs, endMs: failedAtMs });
  if (failedAtMs !== null) spans.push({ phase: FAILED, startMs: failedAtMs, endMs: null });
  return { spans, readyAtMs, failedAtMs };
}

/**
 * The phase in effect at `ms` (since T0): the latest span that started at or before it.
 * Attempts are attributed at their scheduled start.
 */
export function phaseAt(timeline: PhaseTimeline, ms: number): string {
  let phase = UNKNOWN;
  for (const span of timeline.spans) {
    if (span.startMs <= ms) phase = span.phase;
    else break;
  }
  return phase;
}

/** Phase names in timeline order, with `unknown` first when any attempt can fall before them. */
export function phaseOrder(timeline: PhaseTimeline): string[] {
  return [UNKNOWN, ...timeline.spans.map((s) => s.phase)];
}

/** Readiness by source, the one that counts, and the phase timeline it closes (pure). */
export function timelineOf(events: readonly TimelineEvent[], t0: number, readyFrom: keyof ReadySignals | null) {
  const signals = readySignals(events, t0);
  const ready = pickReady(signals, readyFrom ?? undefined);
  return { signals, ready, timeline: buildTimeline(events, t0, ready.atMs) };
}
