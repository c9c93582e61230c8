import { describe, expect, it } from 'vitest';
import { AFTER_MS, expectClocksAgree, expectLoadCovers, join_, LOAD, PING, readEvents, readTimelineEvents, runAgainstSim, SCALE, SECONDS, TIMELINE, type EventRow, type Truth, type TruthConn } from './helpers/coldstart.js';
import { CROSS_PROCESS_CLOCK_MS as CLOCK, watchLoop } from './helpers/slack.js';
import type { Summary } from '../src/report/summary.js';

/**
 * wsrace attributes an attempt at its scheduled start against the boundaries it saw (a log line
 * read, a health answer); the simulator at the attempt's arrival against its own. For a phase
 * boundary the simulator crossed at τ and wsrace saw at w (never, for phases wsrace's timeline
 * ends before), the two can differ only for an attempt whose [scheduled start, arrival] touches
 * [min(τ, w), max(τ, w)], widened by the clocks' disagreement. Everywhere else they must agree.
 */
function comparePhases(pairs: { e: EventRow; t: TruthConn }[], truth: Truth, s: Summary) {
  const seen = new Map(s.timeline.map((span) => [span.phase, s.t0EpochMs + span.startMs]));
  const bounds = truth.phases.map((p) => {
    const w = seen.get(p.phase) ?? Infinity;
    return { from: Math.min(p.at, w) - CLOCK, to: Math.max(p.at, w) + CLOCK };
  });
  let compared = 0;
  const mismatches: string[] = [];
  for (const { e, t } of pairs) {
    const sched = s.t0EpochMs + e.sched;
    if (bounds.some((b) => sched < b.to && t.at >= b.from)) continue;
    compared++;
    if (e.phase !== t.phase) mismatches.push(`#${e.i} sched +${e.sched.toFixed(1)} wsrace ${e.phase} truth ${t.phase}`);
  }
  return { compared, mismatches };
}

describe('cold-start profiles, driven by the engine, checked against the simulator truth file', () => {
  it('racy: 1011s in the early phases, some after /health said ready, counts equal the truth', async () => {
    const { result, truth, dir } = await runAgainstSim({ profile: 'racy', simArgs: `${SCALE} --race-window 8s --loss-window 2s`, body: LOAD(SECONDS, 60) + PING + TIMELINE('health') });
    const s = result.summary;
    const t = s.totals;
    expectLoadCovers(result, truth, AFTER_MS);
    expect(t.attempted).toBe(420);
    // Every upgrade the simulator saw is one attempt; the rest found nothing listening yet.
    expect(truth.conns.length + t.errors.refused).toBe(t.attempted);
    expect(t.closeCodes['1011'] ?? 0).toBe(truth.counts.close_1011 ?? 0);
    expect(t.closeCodes['1000'] ?? 0).toBe(truth.counts.accepted ?? 0);
    // The loss window: the simulator swallowed the first message of these sockets; wsrace saw the
    // pong never come (expect_timeout), one for one.
    expect(truth.counts.lost_message).toBeGreaterThan(0);
    expect(t.errors.expect_timeout).toBe(truth.counts.lost_message);
    expect(t.closeCodes['1011']).toBeGreaterThan(0);
    expect(s.ready.source).toBe('health');
    expect(s.ready.signals.log).not.toBeNull();
    // The race: /health says ready 800 ms (8 s model time × 0.1) before the bridge works; for the
    // first 600 ms of it /ws still closes 1011 (then the 200 ms loss window). Wide enough for
    // /health's 25 ms polling and a simulator whose timers run late on a busy machine.
    const sinceT0 = (mark: string) => (truth.marks[mark] - s.t0EpochMs).toFixed(0);
    expect(
      s.afterReady.closeCodes['1011'],
      `wsrace saw /health ready at ${s.ready.atMs} ms; the simulator turned it at ${sinceT0('health_ready')} ms and its loss window began at ${sinceT0('loss_window')} ms`,
    ).toBeGreaterThan(0);
    // Each of those reached the simulator before its bridge was wired (one clock: the simulator's).
    const events = readEvents(dir);
    const pairs = join_(events, truth);
    expect(pairs.length).toBe(truth.conns.length);
    expectClocksAgree(pairs, truth, s.t0EpochMs, readTimelineEvents(dir));
    const raced = pairs.filter(({ e }) => e.code === 1011 && e.phase === 'ready');
    expect(raced.length).toBe(s.afterReady.closeCodes['1011']);
    for (const { e, t } of raced) {
      expect(e.sched).toBeGreaterThanOrEqual(s.ready.atMs!);
      expect(t.at).toBeLessThan(truth.marks.bridge_ready);
    }
    // The two top findings are the race: 1011s and lost messages after /health said ready.
    expect(s.findings.slice(0, 2).join('\n')).toMatch(/connections? closed 1011 `Service not ready: .*` after \/health reported ready/);
    expect(s.findings.slice(0, 2).join('\n')).toMatch(/opened but never got the expected message after \/health reported ready/);
    // Phases: identical wherever the attempt did not straddle a boundary, up to /health's ready
    // (after it wsrace says ready while the simulator's log goes on through its last phases).
    const early = pairs.filter(({ e }) => e.sched < s.ready.atMs!);
    const { compared, mismatches } = comparePhases(early, truth, s);
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(0);
    // Per phase: what wsrace put in dependencies and reached the simulator before its loss window
    // was closed 1011, as the truth says.
    expect(s.phases.dependencies.closeCodes['1011']).toBeGreaterThan(0);
    const inDependencies = pairs.filter(({ e, t }) => e.phase === 'dependencies' && t.at < truth.marks.loss_window);
    expect(inDependencies.map(({ t }) => t.action)).toEqual(inDependencies.map(() => 'close_1011'));
    expect(inDependencies.map(({ e }) => e.code)).toEqual(inDependencies.map(() => 1011));
  });

  it('gated: 503 only before ready, none after; phases match the truth attempt by attempt', async () => {
    const loop = watchLoop(); // the thread that reads the simulator's log
    const { result, truth, dir } = await runAgainstSim({ profile: 'gated', simArgs: SCALE, body: LOAD(SECONDS, 60) + PING + TIMELINE('log') });
    loop.stop();
    const s = result.summary;
    expectLoadCovers(result, truth, AFTER_MS);
    expect(s.totals.attempted).toBe(420);
    expect(s.totals.httpStatus['503'] ?? 0).toBe(truth.counts.http_503 ?? 0);
    expect(truth.counts.http_503, 'the simulator answered no upgrade before it was ready (on a starved machine it may listen late)').toBeGreaterThan(0);
    expect(s.totals.closeCodes['1011'] ?? 0).toBe(0);
    expect(s.afterReady.httpStatus['503'] ?? 0).toBe(0);
    expect(s.afterReady.attempted).toBeGreaterThan(0);
    expect(s.afterReady.closeCodes['1000']).toBe(s.afterReady.attempted);
    expect(s.totals.closeCodes['1000']).toBe(truth.counts.accepted);
    const pairs = join_(readEvents(dir), truth);
    expect(pairs.length).toBe(truth.conns.length);
    const timeline = readTimelineEvents(dir);
    expectClocksAgree(pairs, truth, s.t0EpochMs, timeline);
    const { compared, mismatches } = comparePhases(pairs, truth, s);
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(0);
    // Each log line is stamped when wsrace read it (typically 1-3 ms after it was written on
    // loopback: README): not before the simulator's plan had it written, and no later than this
    // thread's longest wait after the simulator noted it (just after writing it).
    const lines = timeline.filter((x) => x.source === 'log' && (x.kind === 'phase' || x.kind === 'ready'));
    expect(lines.map((x) => x.phase ?? 'ready')).toEqual(truth.phases.map((p) => p.phase));
    lines.forEach((x, k) => {
      const readAt = s.t0EpochMs + x.ms;
      expect(readAt).toBeGreaterThanOrEqual(truth.t0! + truth.phases[k].plannedMs - CLOCK);
      expect(readAt - truth.phases[k].at).toBeLessThanOrEqual(loop.maxWaitMs() + CLOCK);
    });
  });

  it('queued: no failures, but handshakes held until ready', async () => {
    const { result, truth, dir } = await runAgainstSim({ profile: 'queued', simArgs: SCALE, body: LOAD(SECONDS, 30) + PING + TIMELINE('log') });
    const s = result.summary;
    expectLoadCovers(result, truth, AFTER_MS);
    expect(s.totals.attempted).toBe(210);
    expect(s.totals.closeCodes['1000']).toBe(truth.conns.length);
    expect(s.totals.closeCodes['1011'] ?? 0).toBe(0);
    expect(Object.keys(s.totals.httpStatus)).toEqual([]);
    expect(truth.counts.queued).toBeGreaterThan(0);
    // A held handshake lasts at least as long as the simulator held it (events keep µs).
    const pairs = join_(readEvents(dir), truth);
    expect(pairs.length).toBe(truth.conns.length);
    const held = pairs.filter(({ t }) => t.action === 'queued');
    expect(held).toHaveLength(truth.counts.queued);
    for (const { e, t } of held) expect(e.open! - e.sched).toBeGreaterThanOrEqual((t as TruthConn & { queuedMs: number }).queuedMs - 0.001);
    expect(s.handshakeMs.max!).toBeGreaterThanOrEqual(Math.max(...held.map(({ e }) => e.open! - e.sched)) - 0.001);
    // What reached the simulator after it was ready was not held.
    const readyAt = truth.phases.find((p) => p.phase === 'ready')!.at;
    expect(pairs.filter(({ t }) => t.at >= readyAt).every(({ t }) => t.action === 'accepted')).toBe(true);
  });

  it('refuse: refused until ready, then every attempt works', async () => {
    const loop = watchLoop(); // the thread that reads the simulator's log
    const { result, truth, dir } = await runAgainstSim({ profile: 'refuse', simArgs: SCALE, body: LOAD(SECONDS, 30) + PING + TIMELINE('log') });
    loop.stop();
    const s = result.summary;
    expectLoadCovers(result, truth, AFTER_MS);
    expect(s.totals.attempted).toBe(210);
    expect({ totals: s.totals, truth: truth.counts, sum: s.totals.errors.refused + truth.conns.length }).toMatchObject({ sum: 210 });
    expect(s.beforeReady.errors.refused).toBeGreaterThan(0);
    const events = readEvents(dir);
    expectClocksAgree(join_(events, truth), truth, s.t0EpochMs, readTimelineEvents(dir));
    // The simulator logs ready, then binds (as servers do). Before wsrace read that line every
    // attempt is refused, except one that started after the simulator wrote it: scheduled at most
    // the line's trip (this thread's longest wait) plus its own start lag before wsrace read it.
    for (const e of events.filter((x) => x.phase !== 'ready' && x.outcome !== 'refused')) {
      expect(s.ready.atMs! - e.sched).toBeLessThanOrEqual(loop.maxWaitMs() + (e.start! - e.sched) + 2 * CLOCK);
    }
    // After it, only an attempt that dialled before the simulator had bound may be refused.
    for (const e of events.filter((x) => x.phase === 'ready' && x.outcome === 'refused')) expect(s.t0EpochMs + e.start!).toBeLessThan(truth.marks.listening + CLOCK);
    expect(s.totals.closeCodes['1000']).toBe(truth.conns.length);
  });

  it('broken: startup fails in dependencies and every upgrade gets 503 from then on', async () => {
    const { result, truth, dir } = await runAgainstSim({ profile: 'broken', simArgs: SCALE, body: LOAD(SECONDS, 20) + TIMELINE('health') });
    const s = result.summary;
    expectLoadCovers(result, truth, AFTER_MS);
    expect(s.totals.attempted).toBe(140);
    expect(s.totals.opened).toBe(0);
    expect(s.totals.httpStatus['503']).toBe(truth.counts.http_503);
    expect(s.ready.atMs).toBeNull();
    expect(s.health!.first2xxMs).toBeNull();
    expect(s.failed?.phase).toBe('dependencies');
    const afterFailure = readEvents(dir).filter((e) => e.phase === 'failed');
    expect(afterFailure.length).toBeGreaterThan(0);
    expect(afterFailure.every((e) => e.status === 503)).toBe(true);
    expect(s.findings.join('\n')).toMatch(/startup failed in phase dependencies/);
    expect(s.findings.join('\n')).toMatch(/no WebSocket connection worked in the whole run .*\/health never returned 2xx/);
  });
});
