import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';
import type { Summary } from '../src/report/summary.js';
import { startTestServer, type Action, type TestServer } from './helpers/servers.js';
import { freePort } from './helpers/coldstart.js';
import { requireBinaries, startPrometheus, startPushgateway, sumBy, until, type Service } from './helpers/prometheus.js';

const outDir = () => mkdtempSync(join(tmpdir(), 'wsrace-metrics-'));
/** Several outcomes: 1011 closes, 503s, and 1000s. */
const behaviour = (n: number): Action => (n % 5 === 0 ? { kind: 'close', code: 1011, reason: 'not ready' } : n % 7 === 1 ? { kind: 'http', status: 503 } : { kind: 'accept' });
const body = `load:\n  stages:\n    - { duration: 1s, rate: 60 }\nsession:\n  hold: 20ms\n`;

describe('live metrics into a real Prometheus and Pushgateway', () => {
  let server: TestServer;
  let prometheus: Service;
  let pushgateway: Service;
  let listenPort: number;

  beforeAll(async () => {
    requireBinaries();
    listenPort = await freePort();
    server = await startTestServer(behaviour);
    [prometheus, pushgateway] = await Promise.all([startPrometheus([`127.0.0.1:${listenPort}`]), startPushgateway()]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([prometheus?.stop(), pushgateway?.stop(), server?.close()]);
  });

  it('scraped, pushed and remote-written series sum to the summary exactly', async () => {
    const loaded = parseScenarioText(`name: metrics\ntarget:\n  url: ${server.url}\n${body}`, 'metrics.yaml');
    const warnings: string[] = [];
    const dir = outDir();
    // The linger lasts until Prometheus has scraped the final values (then the test ends it, as a Ctrl-C would).
    const endLinger = new AbortController();
    const running = runScenario(loaded, {
      outDir: dir,
      workers: 2,
      signal: endLinger.signal,
      onWarning: (m) => warnings.push(m),
      metrics: { listen: `127.0.0.1:${listenPort}`, lingerMs: 20_000, pushgateway: pushgateway.url, remoteWrite: `${prometheus.url}/api/v1/write`, pushEveryMs: 500 },
    });
    // summary.json is written before the linger: from then on /metrics holds the final values.
    await until('summary.json', 20_000, async () => (existsSync(join(dir, 'summary.json')) ? true : undefined));
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
    expect(warnings).toEqual([]);
    const run = basename(dir);
    const t = summary.totals;
    expect(Object.keys(t.closeCodes).sort()).toEqual(['1000', '1011']);
    expect(Object.keys(t.httpStatus)).toEqual(['503']);
    expect(summary.exports?.pushgateway).toMatchObject({ dropped: 0 });
    expect(summary.exports!.pushgateway!.pushes).toBeGreaterThanOrEqual(1);

    for (const job of ['scrape', '']) {
      const sel = (extra: string) => `wsrace_attempts_total{run="${run}",job="${job}"${extra}}`;
      // A scrape during the linger, or the last remote write, carries the final values.
      await until(`${job || 'remote write'}: sum(wsrace_attempts_total) = ${t.attempted}`, 10_000, async () => {
        const got = (await sumBy(prometheus.url, 'run', sel('')))[run];
        if (got !== t.attempted) throw new Error(`sum is ${got}`);
        return true;
      });
      expect(await sumBy(prometheus.url, 'code', sel(',outcome="close"'))).toEqual(t.closeCodes);
      expect(await sumBy(prometheus.url, 'status', sel(',outcome="http"'))).toEqual(t.httpStatus);
      const phases = Object.fromEntries(Object.entries(summary.phases).map(([p, b]) => [p, b.attempted]));
      expect(await sumBy(prometheus.url, 'phase', sel(''))).toEqual(phases);
      const counts = await sumBy(prometheus.url, 'result', `wsrace_handshake_seconds_count{run="${run}",job="${job}"}`);
      expect(counts.open).toBe(summary.handshakeMs.count);
    }

    endLinger.abort();
    expect((await running).summary).toEqual(summary);

    const text = await (await fetch(`${pushgateway.url}/metrics`)).text();
    const pushed = text.split('\n').filter((l) => l.startsWith('wsrace_attempts_total{') && l.includes(`run="${run}"`));
    expect(pushed.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)).toBe(t.attempted);
    expect(pushed.every((l) => l.includes('job="wsrace"') && l.includes('shard="0"'))).toBe(true);
  }, 30_000);
});

/** A remote that fails one way: nothing listening, never answering, or 500. */
async function failingRemote(kind: 'down' | 'slow' | '500'): Promise<{ url: string; close(): Promise<void> }> {
  if (kind === 'down') return { url: `http://127.0.0.1:${await freePort()}`, close: async () => {} };
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    req.resume();
    if (kind === '500') res.writeHead(500).end('broken');
    // slow: the request is read and never answered.
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('a remote that is down, slow or answers 500', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(behaviour);
  });
  afterAll(() => server?.close());

  it.each(['down', 'slow', '500'] as const)('%s: the run goes on, its counts are the same, one warning per way out, the pushes counted as dropped', async (kind) => {
    const remote = await failingRemote(kind);
    try {
      const loaded = parseScenarioText(`name: metrics-${kind}\ntarget:\n  url: ${server.url}\n${body}`, 'metrics.yaml');
      const warnings: string[] = [];
      const before = { ...server.tally };
      const { summary } = await runScenario(loaded, {
        outDir: outDir(),
        workers: 2,
        onWarning: (m) => warnings.push(m),
        metrics: { pushgateway: remote.url, remoteWrite: `${remote.url}/api/v1/write`, pushEveryMs: 200, timeoutMs: 300 },
      });
      // Exactly what the server did in this run: every attempt counted as without exports.
      const did = (key: string) => (server.tally[key] ?? 0) - (before[key] ?? 0);
      expect(summary.totals.attempted).toBe(60);
      expect(summary.totals.closeCodes).toEqual({ '1000': did('accept'), '1011': did('close_1011') });
      expect(summary.totals.httpStatus).toEqual({ '503': did('http_503') });
      expect(warnings.filter((w) => w.includes('pushgateway'))).toHaveLength(1);
      expect(warnings.filter((w) => w.includes('remote write'))).toHaveLength(1);
      expect(warnings).toHaveLength(2);
      for (const way of [summary.exports!.pushgateway!, summary.exports!.remoteWrite!]) {
        expect(way.pushes).toBe(0);
        expect(way.dropped).toBeGreaterThanOrEqual(1);
      }
    } finally {
      await remote.close();
    }
  }, 20_000);
});
