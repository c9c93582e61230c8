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
  /** Startups after the first (a restart, a new revision in a deploy): absent when there was none. */
  restarts?: Restart[];
}

/** A startup after the first, in ms since T0: its first phase, and when it ended ready or failed (null: not yet). */
export interface Restart {
  startMs: number;
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
  const timeline = buildFrom(events, t0, readyAtMs, Infinity);
  // A failure after a later startup began is that startup's, not the first one's.
  const next = timeline.restarts?.[0];
  if (next && timeline.failedAtMs !== null && timeline.failedAtMs >= next.startMs) return buildFrom(events, t0, readyAtMs, next.startMs);
  return timeline;
}

/** The timeline whose first startup's failure is the earliest failed signal before `failedBefore` (ms since T0). */
function buildFrom(events: readonly TimelineEvent[], t0: number, readyAtMs: number | null, failedBefore: number): PhaseTimeline {
  const failed = events.filter((e) => e.kind === 'failed' && e.at - t0 < failedBefore).sort((a, b) => a.at - b.at)[0];
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
  const timeline: PhaseTimeline = { spans, readyAtMs, failedAtMs };
  if (Number.isFinite(end)) addRestarts(timeline, events, t0, end, endIndex);
  return timeline;
}

/**
 * Startups after the first one ended: a restart, or a new revision in a deploy. Phases logged
 * after readiness are the same startup still (a health check that said ready before the log's
 * last phases: the race itself), unless something said the startup was over first: the log's
 * (or a supplied) ready line, or a deploy. Then the next phase opens a new startup, and the next
 * ready signal from any source, or failure, closes it. A failure alone arms nothing: a second
 * source reporting the same failure later must not read as a restart. A health probe's phase
 * opens one only if the probe was sent after the last event that said the startup was over (a
 * ready line, a deploy): an answer in flight across it reports the state before it.
 */
function addRestarts(timeline: PhaseTimeline, events: readonly TimelineEvent[], t0: number, end: number, endIndex: number): void {
  const closes = (e: TimelineEvent) => (e.kind === 'ready' && e.source !== 'health') || e.kind === 'deploy';
  // A deploy before the first startup ended is what caused it (a trigger at T0): it arms nothing.
  const arming = events.filter((e, i) => e.kind === 'ready' && e.source !== 'health' && (e.at - t0 < end || (e.at - t0 === end && i <= endIndex)));
  let armed = arming.length > 0;
  // When the startup was last said to be over (a ready line, a deploy): a probe sent before it may report a phase from before it.
  let armedAt = armed ? Math.max(...arming.map((e) => e.at - t0)) : -Infinity;
  const opens = (e: Extract<TimelineEvent, { kind: 'phase' }>) => armed && e.phase !== READY && e.phase !== FAILED && (e.sentAt === undefined || e.sentAt - t0 > armedAt);
  let current: Restart | null = null;
  let seen = new Set<string>();
  const later = events
    .map((e, index) => ({ e, index, at: e.at - t0 }))
    .filter((x) => x.at > end || (x.at === end && x.index > endIndex))
    .sort((a, b) => a.at - b.at || a.index - b.index);
  const open = (phase: string, at: number) => {
    const last = timeline.spans[timeline.spans.length - 1];
    if (last && last.endMs === null) last.endMs = at;
    timeline.spans.push({ phase, startMs: at, endMs: null });
  };
  for (const { e, at } of later) {
    if (current === null) {
      if (closes(e)) {
        armed = true;
        armedAt = at;
      }
      else if (e.kind === 'phase' && opens(e)) {
        current = { startMs: at, readyAtMs: null, failedAtMs: null };
        (timeline.restarts ??= []).push(current);
        seen = new Set([e.phase]);
        armed = false;
        open(e.phase, at);
      }
    } else if (e.kind === 'phase' && !seen.has(e.phase) && e.phase !== READY && e.phase !== FAILED) {
      seen.add(e.phase);
      open(e.phase, at);
    } else if (e.kind === 'ready' || e.kind === 'failed') {
      if (e.kind === 'ready') current.readyAtMs = at;
      else current.failedAtMs = at;
      open(e.kind === 'ready' ? READY : FAILED, at);
      armed = closes(e);
      armedAt = at;
      current = null;
    }
  }
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

/** Each phase's first span (a restart repeats names: a phase's row says when it first began). */
export function firstSpans(spans: readonly PhaseSpan[]): Map<string, PhaseSpan> {
  return new Map([...spans].reverse().map((span) => [span.phase, span]));
}

/** Phase names in timeline order (each once: a restart repeats names), with `unknown` first when any attempt can fall before them. */
export function phaseOrder(timeline: PhaseTimeline): string[] {
  return [...new Set([UNKNOWN, ...timeline.spans.map((s) => s.phase)])];
}

/** Readiness by source, the one that counts, and the phase timeline it closes (pure). */
export function timelineOf(events: readonly TimelineEvent[], t0: number, readyFrom: keyof ReadySignals | null) {
  const signals = readySignals(events, t0);
  const ready = pickReady(signals, readyFrom ?? undefined);
  return { signals, ready, timeline: buildTimeline(events, t0, ready.atMs) };
}
