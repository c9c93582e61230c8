import { describe, expect, it } from 'vitest';
import { buildTimeline, FAILED, phaseAt, phaseOrder, pickReady, READY, readySignals, timelineOf, UNKNOWN, type PhaseTimeline } from '../src/timeline/attribute.js';
import type { TimelineEvent, TimelineSource } from '../src/timeline/types.js';
import { summarizeTimeline } from '../src/report/assemble.js';

/** Epoch ms of T0, with a fractional part so "ms since T0" arithmetic is exercised. */
const T0 = 1_700_000_000_123.25;
/** The finest step an attempt's scheduled start is written with (events.ndjson keeps µs). */
const US = 0.001;

const phase = (name: string, ms: number, source: TimelineSource = 'log'): TimelineEvent => ({ kind: 'phase', source, at: T0 + ms, phase: name });
const ready = (ms: number, source: TimelineSource = 'log'): TimelineEvent => ({ kind: 'ready', source, at: T0 + ms });
const failed = (ms: number, source: TimelineSource = 'log'): TimelineEvent => ({ kind: 'failed', source, at: T0 + ms, reason: 'boom' });

/** phaseAt just before, exactly at and just after `ms`. */
const around = (timeline: PhaseTimeline, ms: number) => [phaseAt(timeline, ms - US), phaseAt(timeline, ms), phaseAt(timeline, ms + US)];

describe('buildTimeline: the phase spans of one run', () => {
  const events = [phase('init', 0), phase('dependencies', 120.5), phase('database', 300.25), ready(700)];

  it('orders the target phases, ends each at the next, and opens ready at the ready signal', () => {
    expect(buildTimeline(events, T0, 700)).toEqual({
      spans: [
        { phase: 'init', startMs: 0, endMs: 120.5 },
        { phase: 'dependencies', startMs: 120.5, endMs: 300.25 },
        { phase: 'database', startMs: 300.25, endMs: 700 },
        { phase: READY, startMs: 700, endMs: null },
      ],
      readyAtMs: 700,
      failedAtMs: null,
    });
  });

  it('without a ready signal the last phase stays open', () => {
    expect(buildTimeline(events, T0, null).spans).toEqual([
      { phase: 'init', startMs: 0, endMs: 120.5 },
      { phase: 'dependencies', startMs: 120.5, endMs: 300.25 },
      { phase: 'database', startMs: 300.25, endMs: null },
    ]);
  });

  it('the readiness it is given counts, not the ready events it sees', () => {
    // A ready event at 700 but readiness (another source) at 250: database is never reached.
    expect(buildTimeline(events, T0, 250).spans).toEqual([
      { phase: 'init', startMs: 0, endMs: 120.5 },
      { phase: 'dependencies', startMs: 120.5, endMs: 250 },
      { phase: READY, startMs: 250, endMs: null },
    ]);
  });

  it('merges sources and arrival order by time; a phase starts at its earliest sighting', () => {
    const mixed = [phase('database', 300.25), phase('init', 3, 'health'), phase('dependencies', 125), phase('init', 0), phase('dependencies', 120.5, 'health')];
    expect(buildTimeline(mixed, T0, null).spans).toEqual([
      { phase: 'init', startMs: 0, endMs: 120.5 },
      { phase: 'dependencies', startMs: 120.5, endMs: 300.25 },
      { phase: 'database', startMs: 300.25, endMs: null },
    ]);
  });

  it('a phase seen again later does not reopen it', () => {
    const back = [phase('init', 0), phase('dependencies', 100), phase('init', 200), phase('database', 300)];
    expect(buildTimeline(back, T0, null).spans.map((s) => [s.phase, s.startMs, s.endMs])).toEqual([
      ['init', 0, 100],
      ['dependencies', 100, 300],
      ['database', 300, null],
    ]);
  });

  it('phases at or after readiness are dropped; so are phases named ready or failed', () => {
    const late = [phase('init', 0), phase('websocket', 500), phase('finalize', 700), phase('after', 900), phase(READY, 400), phase(FAILED, 450)];
    expect(buildTimeline(late, T0, 700).spans).toEqual([
      { phase: 'init', startMs: 0, endMs: 500 },
      { phase: 'websocket', startMs: 500, endMs: 700 },
      { phase: READY, startMs: 700, endMs: null },
    ]);
  });

  it('a failed startup ends the phases at the earliest failed signal and opens failed', () => {
    const fail = [phase('init', 0), phase('dependencies', 120.5), failed(300, 'health'), failed(178.5), phase('database', 200)];
    expect(buildTimeline(fail, T0, null)).toEqual({
      spans: [
        { phase: 'init', startMs: 0, endMs: 120.5 },
        { phase: 'dependencies', startMs: 120.5, endMs: 178.5 },
        { phase: FAILED, startMs: 178.5, endMs: null },
      ],
      readyAtMs: null,
      failedAtMs: 178.5,
    });
  });

  it('ready then failed: ready lasts until the failure', () => {
    expect(buildTimeline([phase('init', 0), failed(900)], T0, 600).spans).toEqual([
      { phase: 'init', startMs: 0, endMs: 600 },
      { phase: READY, startMs: 600, endMs: 900 },
      { phase: FAILED, startMs: 900, endMs: null },
    ]);
  });

  it('failed before (or at) ready: there is no ready span', () => {
    expect(buildTimeline([phase('init', 0), failed(400)], T0, 600).spans).toEqual([
      { phase: 'init', startMs: 0, endMs: 400 },
      { phase: FAILED, startMs: 400, endMs: null },
    ]);
    expect(buildTimeline([phase('init', 0), failed(600)], T0, 600).spans).toEqual([
      { phase: 'init', startMs: 0, endMs: 600 },
      { phase: FAILED, startMs: 600, endMs: null },
    ]);
  });

  // Lines read in one chunk share one time: seen under load in coldstart.test.ts's broken profile.
  it('a phase read together with the failure (one chunk, one time) is the phase that failed', () => {
    const sameRead = [phase('init', 0), phase('dependencies', 178.5), failed(178.5)];
    expect(buildTimeline(sameRead, T0, null).spans).toEqual([
      { phase: 'init', startMs: 0, endMs: 178.5 },
      { phase: 'dependencies', startMs: 178.5, endMs: 178.5 },
      { phase: FAILED, startMs: 178.5, endMs: null },
    ]);
    expect(summarizeTimeline(sameRead, T0, null).summary.failed?.phase).toBe('dependencies');
  });

  it('a phase read in the same chunk after the ending line is not the startup that ended (after a ready line it begins the next: timeline-restarts.test.ts)', () => {
    const sameRead = [phase('init', 0), failed(178.5), phase('dependencies', 178.5)];
    expect(buildTimeline(sameRead, T0, null).spans).toEqual([
      { phase: 'init', startMs: 0, endMs: 178.5 },
      { phase: FAILED, startMs: 178.5, endMs: null },
    ]);
    const readyRead = [phase('init', 0), phase('finalize', 90), ready(90), phase('late', 90)];
    expect(buildTimeline(readyRead, T0, 90).spans.map((s) => s.phase)).toEqual(['init', 'finalize', READY, 'late']);
  });

  it('each source ready signal is its earliest, whatever order the events came in', () => {
    const events: TimelineEvent[] = [ready(300, 'supplied'), ready(120, 'supplied'), ready(200, 'log')];
    expect(readySignals(events, T0)).toEqual({ health: null, log: 200, supplied: 120 });
  });

  it('no events: no spans; ready only: one ready span', () => {
    expect(buildTimeline([], T0, null)).toEqual({ spans: [], readyAtMs: null, failedAtMs: null });
    expect(buildTimeline([ready(50)], T0, 50).spans).toEqual([{ phase: READY, startMs: 50, endMs: null }]);
  });

  it('a phase logged before T0 starts at a negative time', () => {
    expect(buildTimeline([phase('boot', -20), phase('init', 10)], T0, null).spans).toEqual([
      { phase: 'boot', startMs: -20, endMs: 10 },
      { phase: 'init', startMs: 10, endMs: null },
    ]);
  });

  it('ignores probes and exits', () => {
    const noise: TimelineEvent[] = [
      { kind: 'probe', source: 'health', at: T0 + 5, status: 200, latencyMs: 1, phase: 'ready' },
      { kind: 'exit', source: 'target', at: T0 + 6, code: 0, signal: null },
    ];
    expect(buildTimeline([...noise, phase('init', 0)], T0, null).spans).toEqual([{ phase: 'init', startMs: 0, endMs: null }]);
  });
});

describe('phaseAt: the phase in effect at an attempt\'s scheduled start', () => {
  const timeline = buildTimeline([phase('init', 0), phase('dependencies', 120.5), phase('database', 300.25)], T0, 700);

  it('is unknown before the first phase, and the first phase from its first instant', () => {
    expect(phaseAt(timeline, -1000)).toBe(UNKNOWN);
    expect(around(timeline, 0)).toEqual([UNKNOWN, 'init', 'init']);
  });

  it('switches exactly at every transition: 1 µs before is the old phase, at it the new one', () => {
    expect(around(timeline, 120.5)).toEqual(['init', 'dependencies', 'dependencies']);
    expect(around(timeline, 300.25)).toEqual(['dependencies', 'database', 'database']);
    expect(around(timeline, 700)).toEqual(['database', READY, READY]);
    expect(phaseAt(timeline, 1e9)).toBe(READY);
  });

  it('after a failure every attempt is in failed, for good', () => {
    const fail = buildTimeline([phase('init', 0), phase('dependencies', 120.75), failed(178.5)], T0, null);
    expect(around(fail, 120.75)).toEqual(['init', 'dependencies', 'dependencies']);
    expect(around(fail, 178.5)).toEqual(['dependencies', FAILED, FAILED]);
    expect(phaseAt(fail, 1e9)).toBe(FAILED);
    const readyThenFailed = buildTimeline([phase('init', 0), failed(900)], T0, 600);
    expect(around(readyThenFailed, 600)).toEqual(['init', READY, READY]);
    expect(around(readyThenFailed, 900)).toEqual([READY, FAILED, FAILED]);
  });

  it('two phases seen at the same instant: the later-listed one is in effect from then', () => {
    const same = buildTimeline([phase('a', 10), phase('b', 10)], T0, null);
    expect(same.spans).toEqual([
      { phase: 'a', startMs: 10, endMs: 10 },
      { phase: 'b', startMs: 10, endMs: null },
    ]);
    expect(around(same, 10)).toEqual([UNKNOWN, 'b', 'b']);
  });

  it('an empty timeline attributes everything to unknown', () => {
    const empty = buildTimeline([], T0, null);
    expect([phaseAt(empty, -1), phaseAt(empty, 0), phaseAt(empty, 1e9)]).toEqual([UNKNOWN, UNKNOWN, UNKNOWN]);
  });

  it('phaseOrder lists unknown first, then the spans in time order', () => {
    expect(phaseOrder(timeline)).toEqual([UNKNOWN, 'init', 'dependencies', 'database', READY]);
    expect(phaseOrder(buildTimeline([], T0, null))).toEqual([UNKNOWN]);
  });
});

describe('readiness: each source\'s signal, and which one counts', () => {
  const events = [phase('init', 0), ready(500, 'health'), ready(520), ready(530, 'log'), ready(560, 'supplied')];

  it('readySignals takes each source\'s first ready, in ms since T0', () => {
    expect(readySignals(events, T0)).toEqual({ health: 500, log: 520, supplied: 560 });
    expect(readySignals([phase('init', 0)], T0)).toEqual({ health: null, log: null, supplied: null });
  });

  it('pickReady: the source asked for, else health, else log, else supplied', () => {
    expect(pickReady({ health: 500, log: 520, supplied: 560 })).toEqual({ atMs: 500, source: 'health' });
    expect(pickReady({ health: null, log: 520, supplied: 560 })).toEqual({ atMs: 520, source: 'log' });
    expect(pickReady({ health: null, log: null, supplied: 560 })).toEqual({ atMs: 560, source: 'supplied' });
    expect(pickReady({ health: null, log: null, supplied: null })).toEqual({ atMs: null, source: null });
    expect(pickReady({ health: 500, log: 520, supplied: 560 }, 'log')).toEqual({ atMs: 520, source: 'log' });
    expect(pickReady({ health: 500, log: 520, supplied: 560 }, 'supplied')).toEqual({ atMs: 560, source: 'supplied' });
    // The source asked for said nothing: no readiness, even though another source said ready.
    expect(pickReady({ health: null, log: 520, supplied: null }, 'health')).toEqual({ atMs: null, source: 'health' });
  });

  it('timelineOf: the timeline is closed by the chosen source\'s ready, whichever it is', () => {
    const withPhases = [phase('init', 0), phase('websocket', 510), ...events];
    const health = timelineOf(withPhases, T0, 'health');
    expect(health.ready).toEqual({ atMs: 500, source: 'health' });
    expect(health.signals).toEqual({ health: 500, log: 520, supplied: 560 });
    expect(health.timeline.spans.map((s) => s.phase)).toEqual(['init', READY]); // websocket came after ready
    expect(around(health.timeline, 500)).toEqual(['init', READY, READY]);

    const log = timelineOf(withPhases, T0, 'log');
    expect(log.ready).toEqual({ atMs: 520, source: 'log' });
    expect(log.timeline.spans).toEqual([
      { phase: 'init', startMs: 0, endMs: 510 },
      { phase: 'websocket', startMs: 510, endMs: 520 },
      { phase: READY, startMs: 520, endMs: null },
    ]);
    expect(around(log.timeline, 510)).toEqual(['init', 'websocket', 'websocket']);
    expect(around(log.timeline, 520)).toEqual(['websocket', READY, READY]);

    const supplied = timelineOf(withPhases, T0, 'supplied');
    expect(supplied.ready).toEqual({ atMs: 560, source: 'supplied' });
    expect(around(supplied.timeline, 560)).toEqual(['websocket', READY, READY]);

    // No preference: health first.
    expect(timelineOf(withPhases, T0, null).ready).toEqual({ atMs: 500, source: 'health' });
    // Asked for a source that never said ready: phases run on, no ready span.
    const none = timelineOf([phase('init', 0), ready(520)], T0, 'health');
    expect(none.ready).toEqual({ atMs: null, source: 'health' });
    expect(none.timeline.spans).toEqual([{ phase: 'init', startMs: 0, endMs: null }]);
  });
});
