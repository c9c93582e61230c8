import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRunTimeline, timelineLine } from '../src/timeline/supplied.js';
import { keptLive } from '../src/run/correlate.js';
import { buildTimeline, FAILED, phaseAt, phaseOrder, READY, timelineOf } from '../src/timeline/attribute.js';
import type { TimelineEvent, TimelineSource } from '../src/timeline/types.js';
import { PhaseAttributor, type EventLine } from '../src/timeline/phase-report.js';
import { TimelineCollector } from '../src/timeline/collector.js';

const T0 = 1_700_000_000_123.25;
const phase = (name: string, ms: number, source: TimelineSource = 'log'): TimelineEvent => ({ kind: 'phase', source, at: T0 + ms, phase: name });
const ready = (ms: number, source: TimelineSource = 'log'): TimelineEvent => ({ kind: 'ready', source, at: T0 + ms });
const failed = (ms: number, source: TimelineSource = 'log'): TimelineEvent => ({ kind: 'failed', source, at: T0 + ms, reason: 'boom' });
const deploy = (ms: number): TimelineEvent => ({ kind: 'deploy', source: 'trigger', at: T0 + ms });

describe('later startups: a restart or a new revision after the first one ended', () => {
  it('a revision serving from the start, then a deploy whose new revision logs its phases and comes up', () => {
    // Revision A says it is up at once; B starts at 5 s and logs its own startup.
    const events = [ready(2), ready(20, 'health'), phase('init', 5000), phase('dependencies', 5100), phase('websocket', 5400), ready(5600)];
    const { timeline, ready: picked } = timelineOf(events, T0, 'health');
    expect(picked.atMs).toBe(20);
    expect(timeline.spans).toEqual([
      { phase: READY, startMs: 20, endMs: 5000 },
      { phase: 'init', startMs: 5000, endMs: 5100 },
      { phase: 'dependencies', startMs: 5100, endMs: 5400 },
      { phase: 'websocket', startMs: 5400, endMs: 5600 },
      { phase: READY, startMs: 5600, endMs: null },
    ]);
    expect(timeline.restarts).toEqual([{ startMs: 5000, readyAtMs: 5600, failedAtMs: null }]);
    expect(timeline.readyAtMs).toBe(20); // the run's readiness stays the first
    expect([phaseAt(timeline, 4999.999), phaseAt(timeline, 5000), phaseAt(timeline, 5500), phaseAt(timeline, 5600)]).toEqual([READY, 'init', 'websocket', READY]);
    expect(phaseOrder(timeline)).toEqual(['unknown', READY, 'init', 'dependencies', 'websocket']);
  });

  it('the race itself is one startup: phases logged after /health said ready, before the log did, stay in it', () => {
    const events = [phase('init', 0), phase('services', 900), ready(1000, 'health'), phase('websocket', 1100), phase('finalize', 1250), ready(1300)];
    const { timeline } = timelineOf(events, T0, 'health');
    expect(timeline.spans.map((s) => s.phase)).toEqual(['init', 'services', READY]);
    expect(timeline.restarts).toBeUndefined();
  });

  it("a health answer in flight across the log's ready line reports the phase before it: no restart; a probe sent after it can open one", () => {
    // The probe sent at 1290 was answered (phase websocket) after the log's ready line at 1300 was read.
    const probed = (name: string, sentMs: number, atMs: number): TimelineEvent => ({ kind: 'phase', source: 'health', at: T0 + atMs, phase: name, sentAt: T0 + sentMs });
    const events = [phase('init', 0), ready(1000, 'health'), phase('websocket', 1100), ready(1300), probed('websocket', 1290, 1310), probed('websocket', 1300, 1320)];
    expect(timelineOf(events, T0, 'health').timeline.spans.map((s) => s.phase)).toEqual(['init', READY]);
    const later = [...events, probed('init', 1301, 1330)];
    const { timeline } = timelineOf(later, T0, 'health');
    expect(timeline.restarts).toEqual([{ startMs: 1330, readyAtMs: null, failedAtMs: null }]);
    expect(phaseAt(timeline, 1329)).toBe(READY);
    // A deploy after the ready line moves the line again: a probe sent before the deploy reports the old revision.
    const deployed = [...events, deploy(3000), probed('init', 2990, 3010), probed('init', 3001, 3020)];
    expect(timelineOf(deployed, T0, 'health').timeline.restarts).toEqual([{ startMs: 3020, readyAtMs: null, failedAtMs: null }]);
  });

  it("timeline.ndjson keeps a probe's send time beside its phase, in ms since T0, and reads it back", () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-timeline-line-'));
    const events: TimelineEvent[] = [{ kind: 'phase', source: 'health', at: T0 + 1310.5, phase: 'websocket', sentAt: T0 + 1290.25 }, phase('init', 5)];
    expect(timelineLine(events[0], T0)).toBe('{"ms":1310.5,"kind":"phase","source":"health","phase":"websocket","sentMs":1290.25}');
    writeFileSync(join(dir, 'timeline.ndjson'), events.map((e) => timelineLine(e, T0)).join('\n'));
    expect(loadRunTimeline(join(dir, 'timeline.ndjson'), T0)).toEqual(events);
  });

  it("correlate keeps the run's deploy: phases supplied later for the new revision open its startup after a /health ready", () => {
    const live: TimelineEvent[] = [ready(40, 'health'), phase('websocket', 45, 'health'), deploy(30_000), { kind: 'probe', source: 'health', at: T0 + 40, status: 200, latencyMs: 1 }];
    const supplied = [phase('init', 31_000, 'supplied'), phase('dependencies', 31_500, 'supplied'), ready(33_000, 'supplied')];
    const kept = keptLive(live);
    expect(kept.map((e) => e.kind)).toEqual(['ready', 'deploy', 'probe']);
    const { timeline } = timelineOf([...supplied, ...kept], T0, 'health');
    expect(timeline.restarts).toEqual([{ startMs: 31_000, readyAtMs: 33_000, failedAtMs: null }]);
    expect(phaseAt(timeline, 31_600)).toBe('dependencies');
  });

  it('a deploy marker arms a new startup even when only /health said ready', () => {
    const events = [ready(10, 'health'), deploy(3000), phase('init', 3200), ready(4000, 'health')];
    const timeline = buildTimeline(events, T0, 10);
    expect(timeline.spans).toEqual([
      { phase: READY, startMs: 10, endMs: 3200 },
      { phase: 'init', startMs: 3200, endMs: 4000 },
      { phase: READY, startMs: 4000, endMs: null },
    ]);
    expect(timeline.restarts).toEqual([{ startMs: 3200, readyAtMs: 4000, failedAtMs: null }]);
  });

  it('a deploy that caused the first startup (a trigger at T0) arms nothing: the race stays one startup', () => {
    const events = [deploy(0), phase('init', 10), phase('services', 900), ready(1000, 'health'), phase('websocket', 1100)];
    const timeline = buildTimeline(events, T0, 1000);
    expect(timeline.spans.map((s) => s.phase)).toEqual(['init', 'services', READY]);
    expect(timeline.restarts).toBeUndefined();
  });

  it('a restart that fails, then (after a deploy) another that comes up; repeated phase names open spans again in each startup', () => {
    const events = [phase('init', 0), ready(100), phase('init', 1000), failed(1200), deploy(1900), phase('init', 2000), phase('init', 2050), phase('cache', 2100), ready(2300)];
    const timeline = buildTimeline(events, T0, 100);
    expect(timeline.spans.map((s) => [s.phase, s.startMs, s.endMs])).toEqual([
      ['init', 0, 100],
      [READY, 100, 1000],
      ['init', 1000, 1200],
      [FAILED, 1200, 2000],
      ['init', 2000, 2100],
      ['cache', 2100, 2300],
      [READY, 2300, null],
    ]);
    expect(timeline.restarts).toEqual([
      { startMs: 1000, readyAtMs: null, failedAtMs: 1200 },
      { startMs: 2000, readyAtMs: 2300, failedAtMs: null },
    ]);
    // The run's own failure is the first startup's: none here.
    expect(timeline.failedAtMs).toBeNull();
  });

  it('a failure arms nothing: phases after it (or a second source reporting it) are not a restart', () => {
    const events = [phase('init', 0), phase('dependencies', 120), failed(178), phase('database', 200), failed(300, 'health')];
    const timeline = buildTimeline(events, T0, null);
    expect(timeline.spans.map((s) => s.phase)).toEqual(['init', 'dependencies', FAILED]);
    expect(timeline.restarts).toBeUndefined();
  });

  it('a startup that never ended opens no later one; one still starting at the end has no readiness', () => {
    expect(buildTimeline([phase('init', 0), phase('init', 500)], T0, null).restarts).toBeUndefined();
    const open = buildTimeline([ready(0), phase('init', 800), phase('cache', 900)], T0, 0);
    expect(open.restarts).toEqual([{ startMs: 800, readyAtMs: null, failedAtMs: null }]);
    expect(open.spans[open.spans.length - 1]).toEqual({ phase: 'cache', startMs: 900, endMs: null });
  });

  it('events in one read keep their order: a phase after the ready line in the same chunk opens the next startup only once armed', () => {
    const events = [phase('init', 0), ready(50), phase('init', 50)];
    const timeline = buildTimeline(events, T0, 50);
    // The ready line came first and arms; the phase after it in the same read is a new startup.
    expect(timeline.spans.map((s) => s.phase)).toEqual(['init', READY, 'init']);
    expect(timeline.restarts).toEqual([{ startMs: 50, readyAtMs: null, failedAtMs: null }]);
  });
});

describe('failures during a later startup are that startup’s, not the race after ready', () => {
  it('a 1011 while the new revision starts is in its phase, not among the failures after ready; one in ready is', () => {
    const events = [ready(2), phase('init', 5000), phase('dependencies', 5100), ready(5600)];
    const { timeline } = timelineOf(events, T0, 'log');
    const a = new PhaseAttributor(timeline);
    const closed1011 = (sched: number): EventLine => ({ i: sched, w: 0, sched, start: sched, tcp: null, up: null, open: sched + 1, first: null, end: sched + 2, outcome: 'close', code: 1011, serverClosed: true, reason: 'not ready' });
    expect([a.add(closed1011(5200)), a.add(closed1011(3000)), a.add(closed1011(5700))]).toEqual(['dependencies', READY, READY]);
    const r = a.result();
    expect(r.afterReadyFailures.map((f) => [f.key, f.count, f.fromMs, f.toMs])).toEqual([['close 1011', 2, 2998, 5698]]);
    expect(Object.keys(r.phases)).toEqual([READY, 'dependencies']);
  });
});

describe('the timeline once the run has closed it', () => {
  it('takes no more events: the summary is made from what timeline.ndjson holds, so correlate and merge read back the same', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'wsrace-collector-')), 'timeline.ndjson');
    const c = new TimelineCollector(file, null);
    c.setT0(1000);
    c.add({ kind: 'deploy', source: 'trigger', at: 1100 });
    await c.close();
    c.add({ kind: 'exit', source: 'trigger', at: 1500, code: 0, signal: null });
    expect(c.events).toEqual([{ kind: 'deploy', source: 'trigger', at: 1100 }]);
    expect(loadRunTimeline(file, 1000)).toEqual(c.events);
  });
});
