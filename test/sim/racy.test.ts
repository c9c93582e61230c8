import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimHandle } from '../../src/sim/index.js';
import { attempt, getJson, openOrFail, phaseInEffect, readTruth, tmpFile, withTimeout } from './helpers.js';
import { timeLeft } from '../helpers/budget.js';

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('racy profile', () => {
  it('closes early sockets 1011, says healthy before the bridge, loses a message in the loss window, then works', async () => {
    const truth = tmpFile('racy.jsonl');
    // 0.1 ⇒ bridge at 1906.5 ms; health 200 from 906.5 ms (1 s early); loss window from 1406.5 ms.
    // Each window is 0.5 s or more, so a client on a busy machine still lands in the one it waits for.
    sim = await startSimulator({ profile: 'racy', timeScale: 0.1, raceWindowMs: 10_000, lossWindowMs: 5000, truth, log: null });
    expect(sim.marks).toEqual({ healthReadyAtMs: 906.5, lossWindowAtMs: 1406.5 });
    const phases = sim.plan.phases.map((p) => p.name);

    // Early: listening already; health says starting, in the phase it is in; /ws accepts then closes 1011.
    const phaseBefore = phases.indexOf(sim.state().phase);
    const early = await getJson(`${sim.httpUrl}/health`);
    expect(early).toEqual({ status: 503, body: { status: 'unhealthy', message: 'Startup in progress', startup_in_progress: true, details: { phase: expect.any(String) } } });
    const earlyPhase = phases.indexOf((early.body.details as { phase: string }).phase);
    expect(earlyPhase).toBeGreaterThanOrEqual(phaseBefore);
    expect(earlyPhase).toBeLessThanOrEqual(phases.indexOf(sim.state().phase));
    const first = await openOrFail(sim.url);
    const firstClose = await withTimeout(first.closed, 2000, '1011');
    expect(firstClose.code).toBe(1011);
    expect(firstClose.reason).toMatch(/^Service not ready: websocket_bridge, agent_supervisor, /);

    // Race window: health already 200 while the bridge is not wired and /ws still 1011s.
    await sim.until('health_ready', timeLeft());
    const lying = await getJson(`${sim.httpUrl}/health`);
    const second = await openOrFail(sim.url);
    expect(lying.status).toBe(200);
    expect(lying.body.status).toBe('healthy');
    const secondClose = await withTimeout(second.closed, 2000, '1011 in the race window');
    expect(secondClose.code).toBe(1011);
    expect(secondClose.reason).toMatch(/^Service not ready: websocket_bridge/);
    expect(sim.state().bridgeReady).toBe(false);

    // Loss window: accepted, connection_established, but the first message vanishes.
    await sim.until('loss_window', timeLeft());
    const lossy = await openOrFail(sim.url);
    const established = await lossy.inbox.next();
    expect(established.type).toBe('connection_established');
    lossy.ws.send(JSON.stringify({ type: 'heartbeat' })); // swallowed
    lossy.ws.send(JSON.stringify({ type: 'ping' }));
    expect((await lossy.inbox.next()).type).toBe('pong'); // no heartbeat_ack before it
    expect(lossy.inbox.pending).toBe(0);

    // Bridge wired: the protocol works.
    await sim.until('bridge_ready', timeLeft());
    const good = await openOrFail(sim.url);
    expect((await good.inbox.next()).type).toBe('connection_established');
    good.ws.send(JSON.stringify({ type: 'heartbeat' }));
    expect((await good.inbox.next()).type).toBe('heartbeat_ack');
    const readyAt = await sim.until('ready', timeLeft());
    expect(readyAt - sim.t0).toBeGreaterThanOrEqual(sim.plan.readyAtMs!);
    expect((await getJson(`${sim.httpUrl}/health`)).body).toEqual({ status: 'healthy', details: { phase: 'ready' } });

    lossy.ws.close();
    good.ws.close();
    await sim.close();
    const lines = readTruth(truth);
    const conns = lines.filter((l) => l.type === 'conn');
    expect(conns.map((c) => c.action)).toEqual(['close_1011', 'close_1011', 'lost_message', 'accepted']);
    expect(conns[0]).toMatchObject({ code: 1011, path: '/ws', reason: firstClose.reason });
    // Each upgrade was handled in the phase the simulator was in when it arrived.
    for (const c of conns) expect(c.phase).toBe(phaseInEffect(lines, c.at as number));
    expect(conns[1].phase).not.toBe('ready');
    expect(conns[2].phase).not.toBe('ready');
    expect(conns[0].remote).toMatch(/^127\.0\.0\.1:\d+$/);
    for (const c of conns) expect(c.atMs as number).toBeCloseTo((c.at as number) - sim.t0, 2);
    expect(lines.filter((l) => l.type === 'drop')).toEqual([expect.objectContaining({ action: 'lost_message', connId: conns[2].connId })]);
    expect(lines[0]).toMatchObject({ type: 'start', t0: sim.t0, profile: 'racy', plan: { readyAtMs: 1949.8, bridgeReadyAtMs: 1906.5 } });
    expect(lines.filter((l) => l.type === 'phase').map((l) => l.phase)).toEqual(['init', 'dependencies', 'database', 'cache', 'services', 'websocket', 'finalize', 'ready']);
    expect(lines.at(-1)).toMatchObject({ type: 'stop', counts: { close_1011: 2, lost_message: 1, accepted: 1 } });
  }, 10_000);

  it('answers other paths with 404, on HTTP and on upgrade', async () => {
    sim = await startSimulator({ profile: 'racy', timeScale: 0.05, log: null });
    const other = await attempt(sim.url.replace('/ws', '/nope'));
    expect(other).toMatchObject({ kind: 'http', status: 404 });
    expect((await getJson(`${sim.httpUrl}/elsewhere`)).status).toBe(404);
    expect((await getJson(`${sim.httpUrl}/health/live`)).status).toBe(200);
    expect(sim.state().counts).toEqual({ http_404: 1 });
  });
});
