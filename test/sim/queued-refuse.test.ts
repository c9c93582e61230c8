import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startSimulator, type ConnRecord, type SimHandle } from '../../src/sim/index.js';
import { attempt, getJson, openOrFail, readTruth, tmpFile, withTimeout } from './helpers.js';

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('queued profile', () => {
  it('holds an early upgrade until ready, then completes it', async () => {
    const truth = tmpFile('queued.jsonl');
    sim = await startSimulator({ profile: 'queued', timeScale: 0.05, truth, log: null });
    let heldCount = 0;
    const twoHeld = new Promise<void>((resolve) => sim!.events.on('held', () => ++heldCount === 2 && resolve()));
    const held = openOrFail(sim.url);
    // A second early client gives up while held.
    const quitter = new WebSocket(sim.url);
    quitter.on('error', () => {});
    const abandoned = once(sim.events, 'conn');
    await withTimeout(twoHeld, 2000, 'two held upgrades');
    expect(sim.state().heldUpgrades).toBe(2);
    expect(sim.state().ready).toBe(false);
    quitter.terminate();
    const [rec] = (await withTimeout(abandoned, 2000, 'the abandoned record')) as [ConnRecord];
    expect(rec.action).toBe('queued_abandoned');

    const o = await held;
    expect(o.openedAt - sim.t0).toBeGreaterThanOrEqual(sim.plan.readyAtMs!);
    expect(sim.state().ready).toBe(true);
    expect((await o.inbox.next()).type).toBe('connection_established');
    o.ws.close();
    await sim.close();

    const conns = readTruth(truth).filter((l) => l.type === 'conn');
    expect(conns.map((c) => c.action).sort()).toEqual(['queued', 'queued_abandoned']);
    const q = conns.find((c) => c.action === 'queued')!;
    expect(q.phase).toBe('init');
    // Held from its arrival until ready.
    expect(q.queuedMs as number).toBeGreaterThanOrEqual(sim.plan.readyAtMs! - (q.atMs as number) - 0.01);
  });
});

describe('refuse profile', () => {
  it('refuses connections until ready, then listens on the port it announced', async () => {
    sim = await startSimulator({ profile: 'refuse', timeScale: 0.05, log: null });
    const port = sim.port;
    expect(port).toBeGreaterThan(0);
    expect(sim.state().listening).toBe(false);
    const before = await attempt(sim.url);
    expect(before).toMatchObject({ kind: 'error', code: 'ECONNREFUSED' });
    await expect(fetch(`${sim.httpUrl}/health`)).rejects.toThrow();

    await sim.until('listening', 5000);
    expect(sim.port).toBe(port);
    const after = await openOrFail(sim.url);
    expect(after.openedAt - sim.t0).toBeGreaterThanOrEqual(sim.plan.readyAtMs!);
    expect((await after.inbox.next()).type).toBe('connection_established');
    expect((await getJson(`${sim.httpUrl}/health`)).status).toBe(200);
    after.ws.close();
  });
});
