import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';
import { freePort, WSRACE_FROM_SOURCE } from './helpers/coldstart.js';
import { sumExposition as sumBy, until } from './helpers/prometheus.js';

describe('live phase labels against a real cold start', () => {
  it('the simulator at 1/10 time, phases from its log and health: per-phase sums equal summary.phases, ready is 1 at the end', async () => {
    const port = await freePort();
    const listen = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-metrics-sim-'));
    const text = `name: metrics-sim
target:
  url: ws://127.0.0.1:${port}/ws
  handshakeTimeout: 3s
  start:
    command: '\${WSRACE} sim --profile racy --port ${port} --time-scale 0.1'
load:
  stages:
    - { duration: 6s, rate: 50 }
session:
  hold: 100ms
timeline:
  log: { from: target }
  health: { url: "http://127.0.0.1:${port}/health", interval: 25ms }
  readyFrom: health
`;
    const loaded = parseScenarioText(text, join(dir, 'sim.yaml'), {}, { ...process.env, WSRACE: WSRACE_FROM_SOURCE });
    const outDir = join(dir, 'out');
    // The test ends the linger once it has its scrape, as a Ctrl-C would.
    const endLinger = new AbortController();
    const running = runScenario(loaded, { outDir, workers: 2, signal: endLinger.signal, metrics: { listen: `127.0.0.1:${listen}`, lingerMs: 20_000 } });
    await until('summary.json', 30_000, async () => (existsSync(join(outDir, 'summary.json')) ? true : undefined));
    const last = await (await fetch(`http://127.0.0.1:${listen}/metrics`)).text();
    endLinger.abort();
    const { summary } = await running;
    const phases = Object.fromEntries(Object.entries(summary.phases).map(([p, b]) => [p, b.attempted]));
    expect(Object.keys(phases).length, 'the run saw the startup phases').toBeGreaterThan(2);
    expect(summary.ready.atMs, 'the simulator got ready within the run').not.toBeNull();
    expect(sumBy(last, 'wsrace_attempts_total', 'phase')).toEqual(phases);
    const opened = Object.fromEntries(Object.entries(summary.phases).filter(([, b]) => b.handshakeMs.count > 0).map(([p, b]) => [p, b.handshakeMs.count]));
    expect(sumBy(last, 'wsrace_handshake_seconds_count', 'phase', 'result="open"')).toEqual(opened);
    expect(sumBy(last, 'wsrace_ready', 'run')).toEqual({ out: 1 });
    expect(sumBy(last, 'wsrace_phase', 'phase').ready).toBe(1);
    // Health bodies' phases carry when their probe was sent: an answer in flight across the log's
    // ready line must not read as a restart (the run then ended in that phase now and then).
    const probed = readFileSync(join(outDir, 'timeline.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; source: string; ms: number; sentMs?: number }).filter((e) => e.kind === 'phase' && e.source === 'health');
    expect(probed.length).toBeGreaterThan(0);
    expect(probed.filter((e) => !(typeof e.sentMs === 'number' && e.sentMs <= e.ms))).toEqual([]);
    expect(summary.restarts).toBeUndefined();
  }, 40_000);
});
