import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AFTER_MS, expectClocksAgree, expectLoadCovers, join_, LOAD, PING, readEvents, readTimelineEvents, runAgainstSim, SCALE, SECONDS, TIMELINE } from './helpers/coldstart.js';
import { CROSS_PROCESS_CLOCK_MS as CLOCK, hdrResolution, slackFrom } from './helpers/slack.js';
import { correlateRun } from '../src/run/correlate.js';
import { loadReportData } from '../src/report/html-data.js';

// The cold-start tests beside the profiles' own (coldstart.test.ts, split for time): a log from a
// separate command with a supplied timeline after the fact, and clients reconnecting through it.
describe('timeline sources against the simulator', () => {
  it('a log source can be a separate command; correlate with a supplied timeline reproduces the live attribution', async () => {
    const { result, truth, dir } = await runAgainstSim({
      profile: 'gated',
      simArgs: `${SCALE} > DIR/sim.log`,
      body: LOAD(SECONDS, 40) + PING + `timeline:\n  log: { command: "tail -n +1 -F DIR/sim.log 2>/dev/null" }\n`,
    });
    const s = result.summary;
    expectLoadCovers(result, truth, AFTER_MS);
    expect(s.ready.source).toBe('log');
    expect(s.ready.atMs).not.toBeNull();
    expect(s.timeline.map((x) => x.phase)).toEqual(expect.arrayContaining(['init', 'dependencies', 'ready']));
    expect(s.afterReady.httpStatus['503'] ?? 0).toBe(0);
    expect(s.totals.httpStatus['503']).toBe(truth.counts.http_503);
    // Supply the same phase events after the fact: same attribution, phase by phase.
    const supplied = s.timeline.map((span) => ({ phase: span.phase, at: new Date(s.t0EpochMs + span.startMs).toISOString() }));
    const epochSupplied = s.timeline.map((span) => ({ phase: span.phase, at: s.t0EpochMs + span.startMs }));
    const file = join(dir, 'supplied.json');
    writeFileSync(file, JSON.stringify(epochSupplied));
    const correlated = await correlateRun(dir, file);
    expect(correlated.phases).toEqual(s.phases);
    expect(correlated.afterReady).toEqual(s.afterReady);
    expect(correlated.ready.source).toBe('supplied');
    expect(supplied[0].at).toMatch(/Z$/);
  });
});

describe('reconnecting clients', () => {
  it('retry with backoff through the racy startup and connect once the bridge is up; time to connected matches the simulator', async () => {
    const { result, truth, dir } = await runAgainstSim({
      profile: 'racy',
      simArgs: `${SCALE} --race-window 0 --loss-window 0`,
      body:
        `load:\n  stages:\n    - { duration: 500ms, rate: 40 }\n` +
        `session:\n  hold: 50ms\n  expect: { match: connection_established, within: 500ms }\n` +
        `  reconnect: { on: [1011, refused, 1006], max: 200, backoff: { initial: 20ms, factor: 1.5, max: 40ms, jitter: 0% } }\n` +
        `drainTimeout: 10s\n` +
        TIMELINE('log'),
    });
    const s = result.summary;
    const c = s.clients!;
    expect({ c, totals: s.totals }).toMatchObject({ c: { clients: 20, connected: 20 } });
    expect(c.clients).toBe(20);
    expect(c.connected).toBe(20);
    expect(c.neverConnected).toBe(0);
    expect(c.retries).toBe(s.totals.attempted - 20);
    expect(c.retries).toBeGreaterThan(0);
    // Every retry is an attempt in events.ndjson, marked with its client and attempt number.
    const events = readEvents(dir);
    expect(events).toHaveLength(s.totals.attempted);
    expect(new Set(events.map((e) => e.client)).size).toBe(20);
    expect(events.filter((e) => e.try === 0)).toHaveLength(20);
    const pairs = join_(events, truth);
    expectClocksAgree(pairs, truth, s.t0EpochMs, readTimelineEvents(dir));
    const truthOf = new Map(pairs.map(({ e, t }) => [e, t]));
    const bridge = truth.marks.bridge_ready;
    // All 20 connect once the bridge is wired (the simulator's clock): each connecting socket
    // reached it after, and the attempt before it had reached it before (or found nothing listening).
    // The retry came at most the backoff cap (40 ms, no jitter) after that failure ended.
    const retryLate = slackFrom(s, { events: 1, fromSchedule: false });
    for (const client of new Set(events.map((e) => e.client!))) {
      const tries = events.filter((e) => e.client === client).sort((a, b) => a.try! - b.try!);
      const connecting = tries.find((e) => e.outcome === 'close' && e.code === 1000)!;
      expect(truthOf.get(connecting)).toMatchObject({ action: 'accepted' });
      expect(truthOf.get(connecting)!.at).toBeGreaterThanOrEqual(bridge);
      const before = tries[connecting.try! - 1];
      if (!before) continue;
      if (truthOf.has(before)) expect(truthOf.get(before)!.at).toBeLessThan(bridge);
      else expect(before.outcome).toBe('refused');
      expect(connecting.sched - before.end).toBeLessThanOrEqual(40 + retryLate);
    }
    // report.html draws the retry load per second beside the phases.
    const report = await loadReportData(dir);
    expect(report.perSecond.retries.reduce((a, b) => a + b, 0)).toBe(c.retries);
    // Time to connected, client by client: from its first attempt's scheduled start to its script's end.
    const waited = [...new Set(events.map((e) => e.client!))].map((client) => {
      const tries = events.filter((e) => e.client === client);
      return tries.find((e) => e.ok !== undefined)!.ok! - tries.find((e) => e.try === 0)!.sched;
    });
    expect(c.timeToConnectedMs.count).toBe(20);
    expect(c.timeToConnectedMs.max!).toBeGreaterThanOrEqual(Math.max(...waited) - 0.001);
    expect(c.timeToConnectedMs.max!).toBeLessThanOrEqual(Math.max(...waited) + hdrResolution(Math.max(...waited)));
    // The earliest client waited the whole startup: at least from its start until the bridge.
    const firstStart = s.t0EpochMs + Math.min(...events.filter((e) => e.try === 0).map((e) => e.sched));
    expect(c.timeToConnectedMs.max!).toBeGreaterThanOrEqual(bridge - firstStart - CLOCK);
  });
});
