import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';
import { startTestServer, type Action, type TestServer } from './helpers/servers.js';
import { readEvents } from './helpers/coldstart.js';
import { atMost, watchLoop } from './helpers/slack.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const outDir = () => mkdtempSync(join(tmpdir(), 'wsrace-test-'));

function scenario(url: string, body: string) {
  return parseScenarioText(`name: test\ntarget:\n  url: ${url}\n${body}`, 'test.yaml');
}

describe('engine against a deterministic server', () => {
  it('counts every outcome exactly as the server produced it', async () => {
    const plan = (n: number): Action => {
      switch (n % 10) {
        case 0: return { kind: 'close', code: 1011, reason: 'Service not ready: websocket_bridge' };
        case 1: return { kind: 'http', status: 503 };
        case 2: return { kind: 'hang' };
        case 3: return { kind: 'drop' };
        default: return { kind: 'accept' };
      }
    };
    server = await startTestServer(plan);
    // The server answers on this thread: the counts below are exact as long as it never stalls
    // for a whole handshake timeout, which the watch checks rather than assumes.
    const loop = watchLoop();
    const loaded = scenario(server.url, `  handshakeTimeout: 2s
load:
  stages:
    - { duration: 1s, rate: 200 }
session:
  hold: 100ms
thresholds:
  - "totals.closeCodes.1011 == 0"
`);
    const dir = outDir();
    const { summary, exitCode } = await runScenario(loaded, { outDir: dir, workers: 2 });
    loop.stop();
    expect(loop.maxWaitMs(), 'the test server stalled for a whole handshake timeout').toBeLessThan(2000);
    const t = summary.totals;
    expect(server.upgrades).toBe(200);
    expect(t.attempted).toBe(200);
    expect(t.closeCodes['1011']).toBe(server.tally.close_1011);
    expect(t.closeCodes['1011']).toBe(20);
    expect(t.httpStatus['503']).toBe(20);
    expect(t.errors.handshake_timeout).toBe(20);
    expect(t.closeCodes['1006']).toBe(20);
    expect(t.closeCodes['1000']).toBe(120);
    expect(t.opened).toBe(160);
    expect(t.closeReasons['1011']).toEqual(['Service not ready: websocket_bridge']);
    expect(summary.handshakeMs.count).toBe(160);
    expect(summary.handshakeFailMs.count).toBe(40);
    expect(summary.thresholds).toEqual([{ expr: 'totals.closeCodes.1011 == 0', ok: false, actual: 20 }]);
    expect(exitCode).toBe(1);
    const onDisk = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(onDisk.totals).toEqual(summary.totals);
    const lines = readFileSync(join(dir, 'events.ndjson'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(200);
  });
});

describe('engine timing and caps', () => {
  it('measures a delayed 101 from the scheduled start: p50 within the run\'s own lateness of the delay', async () => {
    server = await startTestServer(() => ({ kind: 'delay', ms: 50 }));
    const loaded = scenario(server.url, `load:\n  stages:\n    - { duration: 1s, rate: 50 }\nsession:\n  hold: 10ms\n`);
    const loop = watchLoop();
    const { summary } = await runScenario(loaded, { outDir: outDir(), workers: 2 });
    loop.stop();
    expect(summary.totals.attempted).toBe(50);
    expect(summary.totals.closeCodes['1000']).toBe(50);
    expect(summary.handshakeMs.count).toBe(50);
    expect(summary.handshakeMs.p50!).toBeGreaterThanOrEqual(50);
    // Beyond the 50 ms: wsrace's start lag and its waits for the connect and the 101, and this
    // thread's (the server's) waits to read the request and to run its 50 ms timer.
    expect(summary.handshakeMs.p50!).toBeLessThanOrEqual(atMost(50, summary, { events: 2, extraMs: 2 * loop.maxWaitMs() }));
    expect(summary.upgradeMs.p50!).toBeGreaterThanOrEqual(49.5);
    expect(summary.scheduleLagMs.count).toBe(50);
  });

  it('counts attempts over maxConnections as dropped, not skipped', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    // 50 attempts 10 ms apart, each held 2 s, at most 10 sockets (5 per worker): 40 dropped.
    const loaded = scenario(server.url, `load:\n  stages:\n    - { duration: 500ms, rate: 100 }\n  maxConnections: 10\nsession:\n  hold: 2s\n`);
    const { summary } = await runScenario(loaded, { outDir: outDir(), workers: 2 });
    expect(summary.totals.attempted).toBe(50);
    expect(summary.totals.dropped).toBe(40);
    expect(summary.totals.closeCodes['1000']).toBe(10);
    expect(server.upgrades).toBe(10);
  });

  it('expect: a missing reply is expect_timeout, a 1011 while waiting is a 1011', async () => {
    // The 1011 follows the 101 at once. wsrace counts it when the socket has closed, after the
    // closing handshake, for which the server (this thread) must answer: the counts are exact as
    // long as that thread never stalls for the expect's whole `within`, which the watch checks.
    server = await startTestServer((n) => (n % 2 === 0 ? { kind: 'mute' } : { kind: 'close', code: 1011, reason: 'main mode error' }));
    const loaded = scenario(server.url, `load:\n  stages:\n    - { duration: 400ms, rate: 50 }\nsession:\n  hold: 50ms\n  send: ['{"type":"ping"}']\n  expect: { match: '"type":"pong"', within: 1s }\n`);
    const loop = watchLoop();
    const { summary } = await runScenario(loaded, { outDir: outDir(), workers: 1 });
    loop.stop();
    expect(loop.maxWaitMs(), 'the test server stalled for a whole expect.within').toBeLessThan(1000);
    expect(summary.totals.attempted).toBe(20);
    expect(summary.totals.errors.expect_timeout).toBe(10);
    expect(summary.totals.closeCodes).toEqual({ '1011': 10 });
    expect(summary.totals.closeReasons['1011']).toEqual(['main mode error']);
    expect(summary.totals.opened).toBe(20);
    expect(summary.firstMessageMs.count).toBe(0);
    expect(summary.serverCloseAfterMs.count).toBe(10);
  });

  it('expect: a matching reply is timed from open', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    const loaded = scenario(server.url, `load:\n  stages:\n    - { duration: 400ms, rate: 50 }\nsession:\n  hold: 10ms\n  send: ['{"type":"ping"}']\n  expect: { match: '"type":"pong"', within: 1s }\n`);
    const { summary } = await runScenario(loaded, { outDir: outDir(), workers: 2 });
    expect(summary.totals.closeCodes).toEqual({ '1000': 20 });
    expect(summary.firstMessageMs.count).toBe(20);
    // A reply counts until the expect's deadline fires: within, plus how late that deadline ran.
    expect(summary.firstMessageMs.max!).toBeLessThanOrEqual(atMost(1000, summary, { events: 0, deadlines: 1, fromSchedule: false }));
  });

  it('a reset before the 101 is reset; nothing listening is refused', async () => {
    server = await startTestServer(() => ({ kind: 'reset' }));
    const loaded = scenario(server.url, `load:\n  stages:\n    - { duration: 200ms, rate: 50 }\n`);
    const { summary } = await runScenario(loaded, { outDir: outDir(), workers: 2 });
    expect(summary.totals.errors.reset).toBe(10);
    const port = server.port;
    await server.close();
    server = null;
    const refused = scenario(`ws://127.0.0.1:${port}/ws`, `load:\n  stages:\n    - { duration: 200ms, rate: 50 }\n`);
    const r = await runScenario(refused, { outDir: outDir(), workers: 2 });
    expect(r.summary.totals.attempted).toBe(10);
    expect(r.summary.totals.errors.refused).toBe(10);
    expect(r.summary.handshakeFailMs.count).toBe(10);
  });

  it('an abort stops the run, closes open sockets and marks the summary partial', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    const loaded = scenario(server.url, `load:\n  stages:\n    - { duration: 20s, rate: 20 }\nsession:\n  hold: 30s\n`);
    const controller = new AbortController();
    const dir = outDir();
    const run = runScenario(loaded, { outDir: dir, workers: 2, signal: controller.signal, onProgress: (p) => p.openNow >= 10 && controller.abort('SIGINT') });
    const { summary } = await run;
    expect(summary.partial).toBe(true);
    expect(summary.interruptedBy).toBe('SIGINT');
    expect(summary.totals.attempted).toBeGreaterThanOrEqual(10);
    expect(summary.totals.attempted).toBeLessThan(400);
    expect(summary.totals.errors.interrupted).toBe(summary.totals.attempted);
    expect(summary.totals.closeCodes).toEqual({});
    // The server may have sent a 101 that the client never saw before it was cut: only to an
    // attempt that had started and not yet opened.
    const inHandshake = readEvents(dir).filter((e) => e.start !== null && e.open === null).length;
    expect(server.tally.accept - summary.totals.opened).toBeGreaterThanOrEqual(0);
    expect(server.tally.accept - summary.totals.opened).toBeLessThanOrEqual(inHandshake);
    expect(server.upgrades).toBeLessThanOrEqual(summary.totals.attempted);
  });
});
