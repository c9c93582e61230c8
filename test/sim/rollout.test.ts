import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { computePlan, DEFAULT_PHASES, drainClose, drainOffset, planRollout, rolloutMarks, ROLLOUT_PATH, RolloutSimulator, shiftPlan, startSimulator, type SimOptions } from '../../src/sim/index.js';
import { parseScenarioText } from '../../src/scenario/load.js';
import { runScenario } from '../../src/run/run.js';
import { joinByPort, readEvents, readMessages, type EventRow } from '../helpers/coldstart.js';
import { readTruth, type TruthLine } from './helpers.js';
import { outcomeKey } from '../../src/record/clients.js';

describe('rollout decisions (pure)', () => {
  it('shifts B\'s plan to rollout-at, never lets its marks come before it, and moves traffic by the strategy', () => {
    const plan = computePlan(DEFAULT_PHASES, 0.1);
    const b = shiftPlan(plan, 500);
    expect(b.phases[0]).toMatchObject({ name: 'init', startMs: 500, endMs: 741.5 });
    expect({ readyAtMs: b.readyAtMs, bridgeReadyAtMs: b.bridgeReadyAtMs, endMs: b.endMs }).toEqual({ readyAtMs: 2449.8, bridgeReadyAtMs: 2406.5, endMs: 2449.8 });
    expect(rolloutMarks({ healthReadyAtMs: 100, lossWindowAtMs: 2206.5 }, 500)).toEqual({ healthReadyAtMs: 500, lossWindowAtMs: 2206.5 });
    expect(planRollout('rolling', 500, { healthReadyAtMs: 2106.5 }, '1012', 200)).toEqual({ strategy: 'rolling', rolloutAtMs: 500, switchAtMs: 2106.5, drainAtMs: 2106.5, drainOverMs: 200, drain: '1012' });
    // B never healthy: a rolling update keeps A serving, nothing drains.
    expect(planRollout('rolling', 500, {}, 'cut', 200)).toMatchObject({ switchAtMs: null, drainAtMs: null });
    expect(planRollout('recreate', 500, {}, 'cut', 200)).toMatchObject({ switchAtMs: 500, drainAtMs: 500 });
    const broken = computePlan(DEFAULT_PHASES.map((p) => (p.name === 'dependencies' ? { ...p, timeout: 1.5 } : p)), 0.1);
    const shifted = shiftPlan(broken, 500);
    expect(shifted).toMatchObject({ failed: true, failAtMs: 857, failedPhase: 'dependencies' });
    expect(shifted.readyAtMs).toBeUndefined();
  });

  it('spreads the closes evenly, the first at once, and closes 1012/1001 with a reason or cuts', () => {
    expect([0, 1, 2, 3].map((k) => drainOffset(k, 4, 300))).toEqual([0, 75, 150, 225]);
    expect(drainOffset(0, 0, 300)).toBe(0);
    expect(drainClose('1012')).toEqual({ kind: 'close', code: 1012, reason: 'Service restarting: revision rollout' });
    expect(drainClose('1001')).toEqual({ kind: 'close', code: 1001, reason: 'Going away: revision rollout' });
    expect(drainClose('cut')).toEqual({ kind: 'cut' });
  });
});

/**
 * A population through a rollout of the simulator, in this process. Its log goes to a file that
 * the run reads with `tail` from the first line (A's ready, then B's phases: a restart). B starts
 * when the run's own deploy trigger asks for it (`target.trigger.at`, POST /_sim/rollout), 1.5 s
 * after T0: the population (over 300 ms) is connected by then, however long the workers took to
 * start before T0. Startup at 1/20 scale (~1 s).
 */
async function rolloutRun(o: { clients: number; sim: SimOptions; session?: string; duration?: string; health?: boolean }) {
  const dir = mkdtempSync(join(tmpdir(), 'wsrace-rollout-'));
  const logFile = join(dir, 'sim.log');
  const log = createWriteStream(logFile);
  await once(log, 'open');
  const truthFile = join(dir, 'truth.ndjson');
  const sim = await startSimulator({ profile: 'rollout', port: 0, timeScale: 0.05, rolloutOnRequest: true, truth: truthFile, log, ...o.sim });
  const deploy = join(dir, 'deploy.mjs');
  writeFileSync(deploy, "const res = await fetch(process.argv[2], { method: 'POST' });\nprocess.exit(res.status === 202 ? 0 : 1);\n");
  const text = `name: rollout-test
target:
  url: ${sim.url}
  handshakeTimeout: 2s
  trigger: { command: '"${process.execPath}" ${deploy} ${sim.httpUrl}${ROLLOUT_PATH}', at: 1500ms }
load:
  population: { clients: ${o.clients}, over: 300ms }
  duration: ${o.duration ?? '6s'}
${o.session ?? ''}
timeline:
  log: { command: "tail -n +1 -f ${logFile}" }
${o.health ? `  health: { url: ${sim.httpUrl}/health, interval: 20ms }\n  readyFrom: health` : '  readyFrom: log'}
`;
  try {
    const result = await runScenario(parseScenarioText(text, 'rollout.yaml'), { outDir: join(dir, 'run'), workers: 1 });
    return { result, sim, dir: join(dir, 'run') };
  } finally {
    await sim.close();
    log.end();
    await once(log, 'close');
  }
}

type Lines = ReturnType<typeof readTruth>;

/** Attempts joined with the simulator's conn lines by the client's local port (in order, where a port was reused). */
function joinConns(events: EventRow[], lines: Lines): { e: EventRow; t: TruthLine }[] {
  return joinByPort(events, lines.filter((l) => l.type === 'conn'));
}

/** What wsrace recorded of an attempt, in the simulator's words. */
function seenAs(e: EventRow): string {
  if (e.outcome === 'http' && e.status === 503) return 'http_503';
  if (e.open === null) return String(e.outcome);
  return e.code === 1011 && e.serverClosed ? 'close_1011' : 'opened';
}
const decided = (action: unknown) => (action === 'accepted' || action === 'lost_message' ? 'opened' : String(action));

function tally(rows: { phase: string; what: string }[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) (out[r.phase] ??= {})[r.what] = (out[r.phase]?.[r.what] ?? 0) + 1;
  return out;
}

describe('--rollout-on-request: revision B starts when a deploy asks for it', () => {
  it('POST /_sim/rollout starts it once (202, then 409); other methods 405; without the option 409', async () => {
    const post = (url: string, method = 'POST') => fetch(url, { method }).then(async (r) => [r.status, await r.json()]);
    const sim = await RolloutSimulator.start({ profile: 'rollout', port: 0, timeScale: 0.05, rolloutOnRequest: true, log: null });
    try {
      expect(sim.plan.phases[0].startMs).toBeGreaterThan(1e9); // not before it is asked for
      expect(await post(sim.httpUrl + ROLLOUT_PATH, 'GET')).toEqual([405, { error: 'POST /_sim/rollout starts revision B' }]);
      const [status, body] = await post(sim.httpUrl + ROLLOUT_PATH);
      expect(status).toBe(202);
      const at = (body as { rolloutAtMs: number }).rolloutAtMs;
      expect(sim.plan.phases[0].startMs).toBe(at);
      expect(sim.rollout.rolloutAtMs).toBe(at);
      expect(await post(sim.httpUrl + ROLLOUT_PATH)).toEqual([409, { error: 'revision B was already started' }]);
      expect(sim.rolloutNow()).toBeNull();
      // B's startup runs from then: its ready mark comes about its planned time after the request.
      const readyAt = await sim.until('ready', 10_000);
      expect(readyAt - sim.t0).toBeGreaterThanOrEqual(sim.plan.readyAtMs! - 1);
    } finally {
      await sim.close();
    }
    const timed = await startSimulator({ profile: 'rollout', port: 0, timeScale: 0.05, log: null });
    try {
      expect((await post(timed.httpUrl + ROLLOUT_PATH))[0]).toBe(409);
    } finally {
      await timed.close();
    }
  });
});

describe('a population through the rollout simulator (real sockets)', () => {
  it('rolling onto racy, drain 1012: disconnects equal A\'s closes, the reconnects\' outcomes per phase equal B\'s decisions, B\'s phases a restart', async () => {
    const clients = 40;
    const { result, dir } = await rolloutRun({ clients, sim: { newProfile: 'racy', drain: '1012', drainOverMs: 6000, raceWindowMs: 16_000, lossWindowMs: 0 } });
    const s = result.summary;
    const lines = readTruth(join(dir, '..', 'truth.ndjson'));
    const closes = lines.filter((l) => l.type === 'close');
    expect(closes, 'A held the whole population when it drained').toHaveLength(clients);
    // Disconnects by code are A's closes, exactly: the sockets B accepted and closed 1011 at once never served a client (no stream: closed
    // within SERVED_AFTER_MS), so they are failed retries, not disconnects, and no client came back on one.
    expect({ total: s.disconnects.total, closeCodes: s.disconnects.closeCodes }).toEqual({ total: clients, closeCodes: { '1012': clients } });
    const b1011 = lines.filter((l) => l.type === 'conn' && l.rev === 'B' && l.action === 'close_1011').length;
    expect(b1011).toBeGreaterThan(0);
    // Each disconnect is counted in the phase in effect when it closed (a span of B's startup or after, during the drain), not when its
    // socket was scheduled (A's ready, or before the log's first line was read).
    const spanIndex = (ms: number) => s.timeline.filter((x) => x.startMs <= ms).length - 1;
    const spanAt = (ms: number) => s.timeline[spanIndex(ms)]?.phase ?? 'unknown';
    const cut = readEvents(dir).filter((e) => e.outcome === 'close' && e.code === 1012 && e.serverClosed);
    expect(cut).toHaveLength(clients);
    expect(cut.filter((e) => spanIndex(e.end) <= Math.max(0, spanIndex(e.sched))), 'closed in a later span than scheduled').toEqual([]);
    const byClose = tally(cut.map((e) => ({ phase: spanAt(e.end), what: '1012' })));
    expect(Object.fromEntries(Object.entries(s.disconnects.phases).map(([p, d]) => [p, d.closeCodes]))).toEqual(byClose);
    expect(Object.keys(byClose).some((p) => p !== 'ready'), `the drain closed during B's startup: ${JSON.stringify(byClose)}`).toBe(true);
    expect(s.clients).toMatchObject({ dropped: clients, drops: clients, reconnected: clients, neverBack: 0 });

    // Every retry that started is timed against its backoff, as events.ndjson has them.
    const retries = readEvents(dir).filter((e) => (e.try ?? 0) >= 1 && e.start !== null);
    expect(retries.length).toBeGreaterThan(0);
    expect(s.clients!.retryLagMs.count).toBe(retries.length);
    // A client is back on the socket B kept, never on one it closed 1011: each comeback counts every retry it took, so they add up to all of them.
    expect(Math.round(s.clients!.attemptsPerReconnect.mean! * clients)).toBe(retries.length);
    // Every attempt B decided is one wsrace made, with the outcome B gave it, phase by phase.
    const pairs = joinConns(readEvents(dir), lines).filter(({ t }) => t.rev === 'B');
    expect(pairs).toHaveLength(lines.filter((l) => l.type === 'conn' && l.rev === 'B').length);
    expect(tally(pairs.map(({ e, t }) => ({ phase: String(t.phase), what: seenAs(e) })))).toEqual(tally(pairs.map(({ t }) => ({ phase: String(t.phase), what: decided(t.action) }))));
    expect(pairs.some(({ t }) => t.action === 'close_1011'), 'the herd met B in its race window').toBe(true);
    // The herd's outcomes in summary.clients.retriesByPhase (by the phase each retry was scheduled in) add up to what B decided.
    const herd = Object.values(s.clients!.retriesByPhase!);
    const sum = (pick: (t: (typeof herd)[number]) => number) => herd.reduce((n, t) => n + pick(t), 0);
    const bConns = lines.filter((l) => l.type === 'conn' && l.rev === 'B');
    expect({ attempted: sum((t) => t.attempted), c1011: sum((t) => t.closeCodes['1011'] ?? 0) }).toEqual({ attempted: bConns.length, c1011: b1011 });
    // B started when the run's deploy trigger asked for it (POST /_sim/rollout), once.
    expect(s.triggerExit).toMatchObject({ code: 0, signal: null });
    const asked = lines.filter((l) => l.type === 'rollout');
    expect(asked).toHaveLength(1);
    expect(asked[0].atMs as number).toBeGreaterThan(0);
    expect(lines.indexOf(asked[0])).toBeLessThan(lines.findIndex((l) => l.type === 'phase' && l.rev === 'B'));
    // The timeline: A's ready, then B's seven phases and ready, as one restart.
    expect(s.restarts).toHaveLength(1);
    expect(s.restarts![0].readyAtMs).not.toBeNull();
    expect(s.timeline.map((x) => x.phase)).toEqual(['ready', 'init', 'dependencies', 'database', 'cache', 'services', 'websocket', 'finalize', 'ready']);
  }, 30_000);

  it('recreate onto a broken revision, cut: every client is cut (1006) and never back, B answering each retry 503', async () => {
    const clients = 30;
    const { result, dir } = await rolloutRun({ clients, duration: '5s', sim: { newProfile: 'broken', strategy: 'recreate', drain: 'cut', drainOverMs: 4000 } });
    const s = result.summary;
    const lines = readTruth(join(dir, '..', 'truth.ndjson'));
    const closes = lines.filter((l) => l.type === 'close');
    expect(closes).toHaveLength(clients);
    expect(closes.every((c) => c.cut === true)).toBe(true);
    expect(s.disconnects).toMatchObject({ total: clients, closeCodes: { '1006': clients } });
    expect(s.clients).toMatchObject({ dropped: clients, reconnected: 0, neverBack: clients });
    // Why they are not back: each client's latest attempt, as events.ndjson has it (503s it kept retrying, or one the run's end cut short).
    const latest = new Map<number, EventRow>();
    for (const e of readEvents(dir)) if (e.client !== undefined) latest.set(e.client, e);
    const why: Record<string, number> = {};
    for (const e of latest.values()) why[outcomeKey(e)] = (why[outcomeKey(e)] ?? 0) + 1;
    expect(s.clients!.neverBackLast).toEqual(why);
    // Who had stopped trying before the end, as each client's latest attempt says.
    expect(s.clients!.gaveUp).toEqual({ neverConnected: 0, neverBack: [...latest.values()].filter((e) => e.gaveUp).length });
    expect(Object.keys(why).every((k) => ['http_503', 'interrupted', 'dropped'].includes(k))).toBe(true);
    const b = lines.filter((l) => l.type === 'conn' && l.rev === 'B');
    const pairs = joinConns(readEvents(dir), lines).filter(({ t }) => t.rev === 'B');
    expect(pairs).toHaveLength(b.length);
    expect(pairs.map(({ e }) => seenAs(e))).toEqual(b.map(() => 'http_503'));
    expect(b.length).toBeGreaterThanOrEqual(clients);
  }, 30_000);

  it('recreate onto a queued revision, drain 1001, ready from /health: every client cut 1001, its reconnect held until B is ready, all back; the health source sees B\'s startup as a restart', async () => {
    const clients = 20;
    const { result, dir } = await rolloutRun({ clients, health: true, sim: { newProfile: 'queued', strategy: 'recreate', drain: '1001', drainOverMs: 2000 } });
    const s = result.summary;
    const lines = readTruth(join(dir, '..', 'truth.ndjson'));
    const closes = lines.filter((l) => l.type === 'close');
    expect(closes).toHaveLength(clients);
    expect({ total: s.disconnects.total, closeCodes: s.disconnects.closeCodes }).toEqual({ total: clients, closeCodes: { '1001': clients } });
    expect(s.clients).toMatchObject({ dropped: clients, drops: clients, reconnected: clients, neverBack: 0 });
    // B held each reconnect (queued) and completed it when ready: wsrace saw every one open, after B's ready.
    const b = lines.filter((l) => l.type === 'conn' && l.rev === 'B');
    expect(b.map((l) => l.action)).toEqual(b.map(() => 'queued'));
    const pairs = joinConns(readEvents(dir), lines).filter(({ t }) => t.rev === 'B');
    expect(pairs).toHaveLength(b.length);
    expect(pairs.every(({ e }) => e.open !== null)).toBe(true);
    // /health went to B at the rollout (recreate): 503 while it started, then 200 — the health source's second ready.
    expect(s.ready.source).toBe('health');
    expect(s.restarts).toHaveLength(1);
    expect(s.restarts![0].readyAtMs).not.toBeNull();
  }, 30_000);

  it('a stream through the drain: the messages each dropped socket lost are those A still held when it closed (its unsent msg lines)', async () => {
    const clients = 20;
    const session = 'session:\n  stream: { every: 50ms, within: 2s }';
    const { result, dir } = await rolloutRun({ clients, session, sim: { newProfile: 'gated', drain: '1012', drainOverMs: 4000, oldReplyDelayMs: 4000 } });
    const lines = readTruth(join(dir, '..', 'truth.ndjson'));
    const closes = lines.filter((l) => l.type === 'close');
    expect(closes).toHaveLength(clients);
    expect(result.summary.disconnects).toMatchObject({ total: clients, closeCodes: { '1012': clients } });
    const onA = joinConns(readEvents(dir), lines).filter(({ t }) => t.rev === 'A');
    const msgs = readMessages(dir);
    const truthMsgs = lines.filter((l) => l.type === 'msg' && l.rev === 'A');
    const perSocket = (pick: (connId: string, i: number) => number) => Object.fromEntries(onA.map(({ e, t }) => [String(t.connId), pick(String(t.connId), e.i)]));
    const lost = perSocket((_, i) => msgs.filter((m) => m.i === i && m.r === 'lost').length);
    const outstanding = perSocket((connId) => truthMsgs.filter((m) => m.connId === connId && m.action === 'unsent').length);
    expect(lost).toEqual(outstanding);
    expect(Object.values(outstanding).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // Every lost message went with A's 1012; every one A answered arrived.
    expect(msgs.filter((m) => onA.some(({ e }) => e.i === m.i) && m.r === 'lost').every((m) => m.code === 1012)).toBe(true);
    const replied = perSocket((connId) => truthMsgs.filter((m) => m.connId === connId && m.action === 'replied').length);
    expect(perSocket((_, i) => msgs.filter((m) => m.i === i && m.r === 'replied').length)).toEqual(replied);
  }, 30_000);
});
