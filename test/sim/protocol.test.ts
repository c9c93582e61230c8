import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_EVENTS, startSimulator, type SimHandle } from '../../src/sim/index.js';
import { attempt, openOrFail, readTruth, tmpFile, withTimeout } from './helpers.js';

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** A tiny startup (one 20 ms phase at real speed) for tests that only need the ready service. */
const tiny = [{ name: 'websocket', duration: 0.02 }];

async function readySim(extra: Parameters<typeof startSimulator>[0] = {}): Promise<SimHandle> {
  const s = await startSimulator({ profile: 'gated', phases: tiny, log: null, ...extra });
  await s.until('ready', 5000);
  return s;
}

describe('protocol once ready', () => {
  it('sends connection_established, answers ping/heartbeat, and runs an agent for a user_message', async () => {
    sim = await readySim({ agentStepMs: 5 });
    const o = await openOrFail(sim.url);
    const hello = await o.inbox.next();
    expect(hello).toMatchObject({ type: 'connection_established', data: { connection_id: 'conn_1', phase: 'ready' } });

    o.ws.send(JSON.stringify({ type: 'ping' }));
    expect((await o.inbox.next()).type).toBe('pong');
    o.ws.send(JSON.stringify({ type: 'heartbeat' }));
    expect((await o.inbox.next()).type).toBe('heartbeat_ack');

    o.ws.send(JSON.stringify({ type: 'user_message', content: 'hello', thread_id: 't1' }));
    const events = [];
    for (let i = 0; i < AGENT_EVENTS.length; i++) events.push(await o.inbox.next());
    expect(events.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_completed']);
    expect(new Set(events.map((e) => e.run_id)).size).toBe(1);
    expect(events.every((e) => e.thread_id === 't1')).toBe(true);
    expect(events[4]).toMatchObject({ result: { response: 'hello' } });

    o.ws.send('not json');
    expect(await o.inbox.next()).toMatchObject({ type: 'error', error: 'Invalid JSON' });
    o.ws.send(JSON.stringify({ type: 'mystery' }));
    expect(await o.inbox.next()).toMatchObject({ type: 'error' });
    o.ws.close();
  });

  it('rejects beyond maxConnections with HTTP 503 and records it', async () => {
    const truth = tmpFile('cap.jsonl');
    sim = await readySim({ maxConnections: 2, truth });
    const a = await openOrFail(sim.url);
    const b = await openOrFail(sim.url);
    const c = await attempt(sim.url);
    expect(c).toMatchObject({ kind: 'http', status: 503 });
    a.ws.close();
    b.ws.close();
    await sim.close();
    const actions = readTruth(truth).filter((l) => l.type === 'conn').map((l) => l.action);
    expect(actions).toEqual(['accepted', 'accepted', 'rejected_capacity']);
  });

  it('with --require-auth closes 1008 without credentials and echoes jwt-auth', async () => {
    sim = await readySim({ requireAuth: true });
    const anon = await openOrFail(sim.url);
    expect(await withTimeout(anon.closed, 2000, '1008')).toEqual({ code: 1008, reason: 'Authentication failed' });

    const bearer = await openOrFail(sim.url, { headers: { Authorization: 'Bearer abc.def.ghi' } });
    expect((await bearer.inbox.next()).type).toBe('connection_established');

    const sub = await openOrFail(sim.url, { protocols: ['jwt-auth', 'jwt.YWJjZGVm'] });
    expect(sub.ws.protocol).toBe('jwt-auth');
    expect((await sub.inbox.next()).type).toBe('connection_established');
    bearer.ws.close();
    sub.ws.close();
    expect(sim.state().counts).toEqual({ close_1008: 1, accepted: 2 });
  });

  it('closes open sockets with 1001 on close() and refuses new ones', async () => {
    sim = await readySim();
    const o = await openOrFail(sim.url);
    const closing = sim.close();
    expect((await withTimeout(o.closed, 2000, '1001')).code).toBe(1001);
    await closing;
    expect(await attempt(sim.url)).toMatchObject({ kind: 'error', code: 'ECONNREFUSED' });
    await expect(sim.until('ready')).resolves.toBeGreaterThan(sim.t0);
    await expect(sim.until('failed')).rejects.toThrow(/closed/);
  });
});
