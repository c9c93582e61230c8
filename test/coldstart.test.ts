import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { join_, readEvents, runAgainstSim, type Truth } from './helpers/coldstart.js';
import { correlateRun } from '../src/run/correlate.js';
import { loadReportData } from '../src/report/html-data.js';

/** Profiles at 1/20 time: the whole startup takes ~1 s after the simulator's process is up. */
const SCALE = '--time-scale 0.05';
const LOAD = (seconds: number, rate: number) => `load:\n  stages:\n    - { duration: ${seconds}s, rate: ${rate} }\n`;
const PING = `session:\n  hold: 100ms\n  send: ['{"type":"ping"}']\n  expect: { match: '"type":"pong"', within: 500ms }\n`;
const TIMELINE = (readyFrom = 'health') => `timeline:\n  log: { from: target }\n  health: { url: "http://127.0.0.1:PORT/health", interval: 25ms }\n  readyFrom: ${readyFrom}\n`;

/** The truth's phase boundaries (epoch ms), to know which attempts straddle one. */
function boundaries(truth: Truth): number[] {
  return truth.phases.map((p) => p.at);
}

/**
 * wsrace attributes at the scheduled start, the simulator at arrival; they can only differ for
 * attempts whose [scheduled start, arrival] window touches a phase boundary (± slack for the log
 * line's trip through a pipe). Everything else must agree exactly.
 */
function comparePhases(pairs: ReturnType<typeof join_>, truth: Truth, t0: number, map: (wsracePhase: string) => string = (p) => p) {
  const bounds = boundaries(truth);
  let compared = 0;
  const mismatches: string[] = [];
  for (const { e, t } of pairs) {
    const sched = t0 + e.sched;
    if (bounds.some((b) => b >= sched - 25 && b <= t.at + 25)) continue;
    compared++;
    if (map(e.phase) !== t.phase) mismatches.push(`#${e.i} sched +${e.sched.toFixed(1)} wsrace ${e.phase} truth ${t.phase}`);
  }
  return { compared, mismatches };
}

describe('cold-start profiles, driven by the engine, checked against the simulator truth file', () => {
  it('racy: 1011s in the early phases, some after /health said ready, counts equal the truth', async () => {
    const { result, truth, dir } = await runAgainstSim({ profile: 'racy', simArgs: `${SCALE} --race-window 4s --loss-window 2s`, body: LOAD(2.5, 150) + PING + TIMELINE('health') });
    const s = result.summary;
    const t = s.totals;
    expect(t.attempted).toBe(375);
    // Every upgrade the simulator saw is one attempt; the rest found nothing listening yet.
    expect(truth.conns.length + t.errors.refused).toBe(t.attempted);
    expect(t.closeCodes['1011'] ?? 0).toBe(truth.counts.close_1011);
    expect(t.closeCodes['1000'] ?? 0).toBe(truth.counts.accepted ?? 0);
    // The loss window: the simulator swallowed the first message of these sockets; wsrace saw the
    // pong never come (expect_timeout), one for one.
    expect(truth.counts.lost_message).toBeGreaterThan(0);
    expect(t.errors.expect_timeout).toBe(truth.counts.lost_message);
    expect(t.closeCodes['1011']).toBeGreaterThan(50);
    expect(s.ready.source).toBe('health');
    expect(s.ready.signals.log).not.toBeNull();
    // The race: /health says ready 200 ms (4 s model time × 0.05) before the bridge works.
    expect(s.afterReady.closeCodes['1011']).toBeGreaterThan(0);
    const bridge = truth.marks.bridge_ready - s.t0EpochMs;
    const events = readEvents(dir);
    for (const e of events.filter((x) => x.code === 1011 && x.phase === 'ready')) {
      expect(e.sched).toBeGreaterThanOrEqual(s.ready.atMs!);
      expect(e.sched).toBeLessThan(bridge + 25);
    }
    // The two top findings are the race: 1011s and lost messages after /health said ready.
    expect(s.findings.slice(0, 2).join('\n')).toMatch(/connections? closed 1011 `Service not ready: .*` after \/health reported ready/);
    expect(s.findings.slice(0, 2).join('\n')).toMatch(/opened but never got the expected message after \/health reported ready/);
    // Phases: identical wherever the attempt did not straddle a boundary.
    const pairs = join_(events, truth);
    expect(pairs.length).toBe(truth.conns.length);
    const healthReady = s.t0EpochMs + s.ready.atMs!;
    const early = pairs.filter(({ e }) => s.t0EpochMs + e.sched < healthReady - 25);
    const { compared, mismatches } = comparePhases(early, truth, s.t0EpochMs);
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(early.length * 0.8);
    // Per-phase 1011 counts: wsrace's equal the truth's, phase by phase, away from boundaries.
    expect(Object.keys(s.phases)).toContain('dependencies');
    expect(s.phases.dependencies.closeCodes['1011']).toBe(s.phases.dependencies.attempted);
  });

  it('gated: 503 only before ready, none after; phases match the truth attempt by attempt', async () => {
    const { result, truth, dir } = await runAgainstSim({ profile: 'gated', simArgs: SCALE, body: LOAD(3.5, 100) + PING + TIMELINE('log') });
    const s = result.summary;
    expect(s.totals.attempted).toBe(350);
    expect(s.totals.httpStatus['503']).toBe(truth.counts.http_503);
    expect(s.totals.httpStatus['503']).toBeGreaterThan(30);
    expect(s.totals.closeCodes['1011'] ?? 0).toBe(0);
    expect(s.afterReady.httpStatus['503'] ?? 0).toBe(0);
    expect(s.afterReady.attempted).toBeGreaterThan(30);
    expect(s.afterReady.closeCodes['1000']).toBe(s.afterReady.attempted);
    expect(s.totals.closeCodes['1000']).toBe(truth.counts.accepted);
    const pairs = join_(readEvents(dir), truth);
    expect(pairs.length).toBe(truth.conns.length);
    const { compared, mismatches } = comparePhases(pairs, truth, s.t0EpochMs);
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(pairs.length * 0.8);
    // The log line's phase boundaries sit within a few ms of the simulator's own clock.
    for (const span of s.timeline.filter((x) => x.phase !== 'ready' && x.phase !== 'failed')) {
      const truthPhase = truth.phases.find((p) => p.phase === span.phase)!;
      // Typically 1-3 ms on loopback (README); the bound leaves room for a loaded CI machine.
      expect(Math.abs(span.startMs - (truthPhase.at - s.t0EpochMs))).toBeLessThan(50);
    }
  });

  it('queued: no failures, but handshakes held until ready', async () => {
    const { result, truth } = await runAgainstSim({ profile: 'queued', simArgs: SCALE, body: LOAD(3.5, 60) + PING + TIMELINE('log') });
    const s = result.summary;
    expect(s.totals.attempted).toBe(210);
    expect(s.totals.closeCodes['1000']).toBe(truth.conns.length);
    expect(s.totals.closeCodes['1011'] ?? 0).toBe(0);
    expect(Object.keys(s.totals.httpStatus)).toEqual([]);
    expect(truth.counts.queued).toBeGreaterThan(20);
    // The longest queued handshake is about the startup time the attempt waited through.
    expect(s.handshakeMs.max!).toBeGreaterThan(500);
    expect(s.afterReady.handshakeMs.p50!).toBeLessThan(50);
  });

  it('refuse: refused until ready, then every attempt works', async () => {
    const { result, truth, dir } = await runAgainstSim({ profile: 'refuse', simArgs: SCALE, body: LOAD(3.5, 60) + PING + TIMELINE('log') });
    const s = result.summary;
    expect(s.totals.attempted).toBe(210);
    expect({ totals: s.totals, truth: truth.counts, sum: s.totals.errors.refused + truth.conns.length }).toMatchObject({ sum: 210 });
    expect(s.beforeReady.errors.refused).toBeGreaterThan(50);
    // Before ready everything is refused, except an attempt scheduled in the few ms between the
    // simulator binding and its ready line reaching wsrace through the pipe.
    for (const e of readEvents(dir).filter((x) => x.phase !== 'ready' && x.outcome !== 'refused')) expect(s.ready.atMs! - e.sched).toBeLessThan(25);
    // The simulator binds right after it logs ready (as servers do): only that instant may refuse.
    for (const e of readEvents(dir).filter((x) => x.phase === 'ready' && x.outcome === 'refused')) expect(e.sched - s.ready.atMs!).toBeLessThan(20);
    expect(s.totals.closeCodes['1000']).toBe(truth.conns.length);
  });

  it('broken: startup fails in dependencies and every upgrade gets 503 from then on', async () => {
    const { result, truth, dir } = await runAgainstSim({ profile: 'broken', simArgs: SCALE, body: LOAD(2.5, 60) + TIMELINE('health') });
    const s = result.summary;
    expect(s.totals.attempted).toBe(150);
    expect(s.totals.opened).toBe(0);
    expect(s.totals.httpStatus['503']).toBe(truth.counts.http_503);
    expect(s.ready.atMs).toBeNull();
    expect(s.health!.first2xxMs).toBeNull();
    expect(s.failed?.phase).toBe('dependencies');
    const afterFailure = readEvents(dir).filter((e) => e.phase === 'failed');
    expect(afterFailure.length).toBeGreaterThan(20);
    expect(afterFailure.every((e) => e.status === 503)).toBe(true);
    expect(s.findings.join('\n')).toMatch(/startup failed in phase dependencies/);
    expect(s.findings.join('\n')).toMatch(/no WebSocket connection worked in the whole run .*\/health never returned 2xx/);
  });

  it('a log source can be a separate command; correlate with a supplied timeline reproduces the live attribution', async () => {
    const { result, truth, dir } = await runAgainstSim({
      profile: 'gated',
      simArgs: `${SCALE} > DIR/sim.log`,
      body: LOAD(3, 80) + PING + `timeline:\n  log: { command: "tail -n +1 -F DIR/sim.log 2>/dev/null" }\n`,
    });
    const s = result.summary;
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
    expect(c.retries).toBeGreaterThan(20);
    // Every retry is an attempt in events.ndjson, marked with its client and attempt number.
    const events = readEvents(dir) as unknown as { client: number; try: number; open: number | null; outcome: string; code?: number; sched: number }[];
    expect(events).toHaveLength(s.totals.attempted);
    expect(new Set(events.map((e) => e.client)).size).toBe(20);
    expect(events.filter((e) => e.try === 0)).toHaveLength(20);
    // All 20 connect after the bridge is wired, within the backoff cap (+ a handshake) of it.
    const bridge = truth.marks.bridge_ready - s.t0EpochMs;
    for (const e of events.filter((x) => x.outcome === 'close' && x.code === 1000)) expect(e.open!).toBeGreaterThanOrEqual(bridge - 1);
    const firstScheds = events.filter((e) => e.try === 0).map((e) => e.sched);
    const latestConnect = Math.max(...events.filter((x) => x.outcome === 'close' && x.code === 1000).map((e) => e.open!));
    expect(latestConnect - bridge).toBeLessThan(40 + 30);
    // report.html draws the retry load per second beside the phases.
    const report = await loadReportData(dir);
    expect(report.perSecond.retries.reduce((a, b) => a + b, 0)).toBe(c.retries);
    // The earliest client waited about the whole startup: its time to connected ≈ bridge − its start.
    expect(Math.abs(c.timeToConnectedMs.max! - (bridge - Math.min(...firstScheds)))).toBeLessThan(40 + 30);
  });
});
