import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';
import { startTestServer, type Action, type TestServer } from './helpers/servers.js';

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
    const loaded = scenario(server.url, `  handshakeTimeout: 400ms
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
