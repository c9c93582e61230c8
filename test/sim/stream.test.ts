import { afterEach, describe, expect, it } from 'vitest';
import { nowEpochMs, startSimulator, warmDelay, type MessageRecord, type SimHandle } from '../../src/sim/index.js';
import { nextMsg, openOrFail, readTruth, streamPing, tmpFile, type Msg } from './helpers.js';
import { timeLeft } from '../helpers/budget.js';

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const r3 = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * A short racy startup at 1/10: init 500 ms, websocket 500 ms (the bridge at 1000 ms), finalize
 * 300 ms (ready at 1300 ms); the loss window is the 400 ms before the bridge; replies are held
 * 300 ms until ready and less and less over the 500 ms after it. Every window is 300 ms or more,
 * so a client on a busy machine still lands in the one it waits for.
 */
const RACY = {
  profile: 'racy' as const,
  timeScale: 0.1,
  phases: [
    { name: 'init', duration: 5 },
    { name: 'websocket', duration: 5 },
    { name: 'finalize', duration: 3 },
  ],
  lossWindowMs: 4000,
  warmDelayMs: 3000,
  warmMs: 5000,
  log: null,
};

/** Sends a stream ping and waits for both its pong and the simulator's truth line for it. */
async function pingPong(ws: import('ws').WebSocket, inbox: { next(ms?: number): Promise<Msg> }, s: SimHandle, seq: number) {
  const settled = nextMsg(s, (m) => m.seq === seq && m.action === 'replied');
  const sentAt = nowEpochMs();
  ws.send(streamPing(seq));
  const pong = await inbox.next(timeLeft());
  const receivedAt = nowEpochMs();
  return { pong, sentAt, receivedAt, truth: await settled };
}

describe('warmDelay (racy warm-up)', () => {
  it('is the full delay until ready, falls linearly to none over warm, then none; 0 turns it off', () => {
    expect([-100, 0, 500, 1000, 1500, 2000, 5000].map((t) => warmDelay(t, 1000, 2000))).toEqual([1000, 1000, 750, 500, 250, 0, 0]);
    expect(warmDelay(0, 0, 2000)).toBe(0);
    expect(warmDelay(0, 1000, 0)).toBe(0);
    expect(warmDelay(-1, 1000, 0)).toBe(0);
  });
});

describe('stream pings', () => {
  it('racy: dropped in the loss window, held until ready, then less and less over warm; each one a truth line', async () => {
    const truth = tmpFile('stream-racy.jsonl');
    sim = await startSimulator({ ...RACY, truth });
    const s = sim;
    expect(s.warm).toEqual({ readyAt: s.t0 + 1300, delayMs: 300, ms: 500 });
    await s.until('loss_window', timeLeft());
    const a = await openOrFail(s.url);
    expect((await a.inbox.next()).type).toBe('connection_established');
    // The first message of a loss-window socket, and any stream ping before the bridge: swallowed.
    const first = nextMsg(s, (m) => m.seq === 1);
    a.ws.send(streamPing(1));
    expect(await first).toMatchObject({ action: 'dropped', why: 'first', phase: 'websocket' });
    const second = nextMsg(s, (m) => m.seq === 2);
    a.ws.send(streamPing(2));
    expect(await second).toMatchObject({ action: 'dropped', why: 'loss_window', phase: 'websocket' });

    // Bridge wired, not ready: the full delay. A reply held for a socket that closes first is never sent.
    await s.until('bridge_ready', timeLeft());
    const b = await openOrFail(s.url);
    const unsent = nextMsg(s, (m) => m.seq === 1);
    b.ws.send(streamPing(1));
    b.ws.close();
    expect(await unsent).toMatchObject({ action: 'unsent', seq: 1, phase: 'finalize', delayMs: 300 });
    const held = await pingPong(a.ws, a.inbox, s, 3);
    expect(held.pong).toMatchObject({ type: 'pong', seq: 3, sentAt: 30 });
    expect(held.truth).toMatchObject({ action: 'replied', phase: 'finalize', delayMs: 300 });

    // After ready, one ping at a time until the warm-up is over.
    await s.until('ready', timeLeft());
    const after = [];
    for (let seq = 4; seq < 200; seq++) {
      const p = await pingPong(a.ws, a.inbox, s, seq);
      after.push(p);
      if (p.truth.delayMs === 0) break;
    }
    for (const p of [held, ...after]) {
      const t = p.truth;
      // The delay is the pure function of when the ping arrived, from the planned ready (both
      // rounded to the µs, from epoch times the JSON carries to the last bit: one µs either way).
      expect(Math.abs(t.delayMs! - r3(warmDelay(t.at - s.warm!.readyAt, 300, 500)))).toBeLessThanOrEqual(0.001 + 1e-9);
      expect(t.atMs).toBe(r3(t.at - s.t0));
      // Never early; the client saw it no sooner (one process, one clock).
      expect(p.sentAt).toBeLessThanOrEqual(t.at);
      expect(t.replyAt! - t.at).toBeGreaterThanOrEqual(t.delayMs!);
      expect(p.receivedAt).toBeGreaterThanOrEqual(t.replyAt!);
    }
    const delays = after.map((p) => p.truth.delayMs!);
    expect(delays.at(-1)).toBe(0);
    expect(delays.slice(0, -1).every((d, k) => d > delays[k + 1])).toBe(true);
    a.ws.close();
    await s.close();

    const lines = readTruth(truth);
    const msgs = lines.filter((l) => l.type === 'msg') as unknown as MessageRecord[];
    const conns = lines.filter((l) => l.type === 'conn');
    expect(conns.map((c) => c.action)).toEqual(['lost_message', 'accepted']);
    expect(msgs.filter((m) => m.connId === conns[0].connId).map((m) => [m.seq, m.action])).toEqual([[1, 'dropped'], [2, 'dropped'], ...[held, ...after].map((p) => [p.truth.seq, 'replied'])]);
    for (const m of msgs) expect(m.remote).toBe(conns.find((c) => c.connId === m.connId)!.remote);
    expect(lines[0]).toMatchObject({ type: 'start', plan: { readyAtMs: 1300, bridgeReadyAtMs: 1000, lossWindowAtMs: 600, warmDelayMs: 300, warmMs: 500 } });
    expect(lines.at(-1)).toMatchObject({ type: 'stop', messages: { dropped: 2, unsent: 1, replied: after.length + 1 } });
  }, 15_000);

  it("racy: a socket's replies keep their order, when a later ping's own delay would end sooner", async () => {
    const truth = tmpFile('stream-fifo.jsonl');
    // Held 400 ms at ready, none 100 ms after: each later ping's own delay ends sooner than the one before.
    sim = await startSimulator({ profile: 'racy', phases: [{ name: 'websocket', duration: 0.02 }], warmDelayMs: 400, warmMs: 100, truth, log: null });
    await sim.until('ready', timeLeft());
    const o = await openOrFail(sim.url);
    expect((await o.inbox.next()).type).toBe('connection_established');
    for (let seq = 1; seq <= 20; seq++) o.ws.send(streamPing(seq));
    const pongs = [];
    for (let k = 0; k < 20; k++) pongs.push(await o.inbox.next(timeLeft()));
    expect(pongs.map((p) => p.seq)).toEqual(Array.from({ length: 20 }, (_, k) => k + 1));
    o.ws.close();
    await sim.close();
    const msgs = readTruth(truth).filter((l) => l.type === 'msg') as unknown as MessageRecord[];
    msgs.sort((x, y) => (x.seq as number) - (y.seq as number));
    // Each is due at its own delay or its predecessor's due time, whichever is later; sent in that order.
    let due = -Infinity;
    for (const m of msgs) {
      due = Math.max(m.at + warmDelay(m.at - sim.warm!.readyAt, 400, 100), due);
      expect(m.delayMs).toBe(r3(due - m.at));
      expect(m.replyAt! - m.at).toBeGreaterThanOrEqual(m.delayMs!);
    }
    expect(msgs.map((m) => m.replyAt!)).toEqual(msgs.map((m) => m.replyAt!).sort((x, y) => x - y));
  });

  it('racy: replies still held when the simulator shuts down are unsent, and the truth says so before it stops', async () => {
    const truth = tmpFile('stream-shutdown.jsonl');
    sim = await startSimulator({ profile: 'racy', phases: [{ name: 'websocket', duration: 0.02 }], warmDelayMs: 60_000, warmMs: 60_000, truth, log: null });
    await sim.until('ready', timeLeft());
    const o = await openOrFail(sim.url);
    expect((await o.inbox.next()).type).toBe('connection_established');
    const settled = nextMsg(sim, () => true);
    o.ws.send(streamPing(1));
    // A plain ping is answered at once: its pong says the simulator has read the stream ping (held a minute).
    o.ws.send(JSON.stringify({ type: 'ping' }));
    expect(await o.inbox.next()).toMatchObject({ type: 'pong' });
    const closed = o.closed;
    await sim.close();
    expect(await settled).toMatchObject({ action: 'unsent', seq: 1 });
    expect((await closed).code).toBe(1001);
    expect(o.inbox.pending).toBe(0);
    const lines = readTruth(truth);
    expect(lines.slice(-2).map((l) => [l.type, l.action])).toEqual([['msg', 'unsent'], ['stop', undefined]]);
  });

  it('other profiles answer every stream ping at once, plain pings as before', async () => {
    const truth = tmpFile('stream-gated.jsonl');
    sim = await startSimulator({ profile: 'gated', phases: [{ name: 'websocket', duration: 0.02 }], truth, log: null });
    expect(sim.warm).toBeNull();
    await sim.until('ready', timeLeft());
    const o = await openOrFail(sim.url);
    expect((await o.inbox.next()).type).toBe('connection_established');
    const p = await pingPong(o.ws, o.inbox, sim, 1);
    expect(p.truth).toMatchObject({ action: 'replied', delayMs: 0, phase: 'ready', seq: 1 });
    o.ws.send(JSON.stringify({ type: 'ping' }));
    expect(Object.keys(await o.inbox.next())).toEqual(['type', 'timestamp']);
    o.ws.close();
    await sim.close();
    expect(readTruth(truth).filter((l) => l.type === 'msg')).toHaveLength(1);
    // racy without a warm-up: turned off, or a startup that fails before ready.
    for (const options of [{ warmMs: 0 }, { warmDelayMs: 0 }, { timeouts: { websocket: 0.01 } }]) {
      const off = await startSimulator({ profile: 'racy', phases: [{ name: 'websocket', duration: 0.02 }], log: null, ...options });
      expect(off.warm).toBeNull();
      await off.close();
    }
  });
});
