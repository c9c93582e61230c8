import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimHandle } from '../../src/sim/index.js';
import { attempt, getJson, openOrFail, phaseInEffect, readTruth, tmpFile } from './helpers.js';

let sim: SimHandle | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('gated profile', () => {
  it('answers HTTP 503 + Retry-After until ready, then 101 and the protocol', async () => {
    const truth = tmpFile('gated.jsonl');
    sim = await startSimulator({ profile: 'gated', timeScale: 0.05, truth, log: null });
    const before = await Promise.all([attempt(sim.url), attempt(sim.url), attempt(sim.url)]);
    for (const o of before) {
      expect(o.kind).toBe('http');
      if (o.kind !== 'http') continue;
      expect(o.status).toBe(503);
      expect(o.headers['retry-after']).toBe('1');
    }
    expect((await getJson(`${sim.httpUrl}/health/ready`)).status).toBe(503);

    await sim.until('ready', 5000);
    expect((await getJson(`${sim.httpUrl}/health/startup`)).status).toBe(200);
    const after = await Promise.all([openOrFail(sim.url), openOrFail(sim.url)]);
    for (const o of after) {
      expect(o.openedAt - sim.t0).toBeGreaterThanOrEqual(sim.plan.readyAtMs!);
      expect((await o.inbox.next()).type).toBe('connection_established');
      o.ws.close();
    }
    await sim.close();

    // Truth counts equal what the clients saw.
    const lines = readTruth(truth);
    const conns = lines.filter((l) => l.type === 'conn');
    const seen = { http_503: before.filter((o) => o.kind === 'http' && o.status === 503).length, accepted: after.length };
    expect({ http_503: conns.filter((c) => c.action === 'http_503').length, accepted: conns.filter((c) => c.action === 'accepted').length }).toEqual(seen);
    expect(conns).toHaveLength(5);
    expect(conns.filter((c) => c.action === 'http_503').every((c) => c.status === 503 && c.phase !== 'ready')).toBe(true);
    expect(conns.filter((c) => c.action === 'accepted').every((c) => c.phase === 'ready')).toBe(true);
    // The 503s were decided before ready, by the simulator's clock (the client read them later).
    const readyAt = lines.find((l) => l.type === 'phase' && l.phase === 'ready')!.at as number;
    for (const c of conns) expect(c.phase).toBe(phaseInEffect(lines, c.at as number));
    expect(conns.filter((c) => c.action === 'http_503').every((c) => (c.at as number) < readyAt)).toBe(true);
  });
});

describe('broken profile', () => {
  it('times out dependencies, logs STARTUP FAILED, and answers 503 for good', async () => {
    const out = new PassThrough();
    let log = '';
    out.on('data', (c: Buffer) => (log += c.toString()));
    const truth = tmpFile('broken.jsonl');
    // 1/5 time: the attempt meant for before the failure has half a second to get there.
    sim = await startSimulator({ profile: 'broken', timeScale: 0.2, truth, log: out });
    // init 483 ms + dependencies timeout 1.155 s × 0.2 = 231 ms.
    expect(sim.plan).toMatchObject({ failed: true, failedPhase: 'dependencies', failAtMs: 714 });
    const ready = sim.until('ready', 5000);
    ready.catch(() => {});

    const before = await attempt(sim.url);
    expect(before).toMatchObject({ kind: 'http', status: 503 });
    if (before.kind === 'http') expect(before.headers['retry-after']).toBe('1');

    const failedAt = await sim.until('failed', 5000);
    expect(failedAt - sim.t0).toBeGreaterThanOrEqual(714);
    await expect(ready).rejects.toThrow(/ready will not happen: startup failed/);

    const after = await attempt(sim.url);
    expect(after).toMatchObject({ kind: 'http', status: 503 });
    if (after.kind === 'http') expect(JSON.parse(after.body).detail).toMatch(/^Startup failed: Phase dependencies timed out after/);
    const health = await getJson(`${sim.httpUrl}/health`);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'unhealthy', startup_failed: true, details: { phase: 'dependencies' } });
    expect(health.body.message).toBe(`Startup failed: ${sim.plan.failReason}`);
    expect((await getJson(`${sim.httpUrl}/health/live`)).status).toBe(200);
    expect(sim.state()).toMatchObject({ phase: 'failed', failedPhase: 'dependencies', failed: true, ready: false });

    await sim.close();
    expect(log.split('\n')).toEqual([
      'PHASE TRANSITION  ->  init',
      'PHASE COMPLETED: init (0.483s)',
      'PHASE TRANSITION  ->  dependencies',
      `STARTUP FAILED: ${sim.plan.failReason}`,
      '',
    ]);
    const lines = readTruth(truth);
    const conns = lines.filter((l) => l.type === 'conn');
    expect(conns.map((l) => l.action)).toEqual(['http_503', 'http_503']);
    for (const c of conns) expect(c.phase).toBe(phaseInEffect(lines, c.at as number));
    expect(conns[0].phase, 'the first attempt came after the failure').not.toBe('failed');
    expect(conns[1].phase).toBe('failed');
    expect(lines.find((l) => l.phase === 'failed')).toMatchObject({ type: 'phase', failedPhase: 'dependencies', reason: sim.plan.failReason });
  });
});
