import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStream, pong, streamServers } from './helpers/stream-server.js';
import { startTestServer, type TestServer } from './helpers/servers.js';
import { freePort } from './helpers/coldstart.js';
import { sumExposition as sumBy, until } from './helpers/prometheus.js';
import { runCli } from './helpers/cli.js';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';

const { serve } = streamServers();

describe('--metrics-listen', () => {
  it("a population's clients are connected while their sockets are open, not only once they end", async () => {
    const clients = 20;
    const server = await startTestServer(() => ({ kind: 'accept' }));
    const port = await freePort();
    const outDir = join(mkdtempSync(join(tmpdir(), 'wsrace-listen-pop-')), 'out');
    // Long enough for any machine: the test stops it (as a Ctrl-C would) once it has seen what it waits for.
    const text = `name: pop-live\ntarget:\n  url: ${server.url}\nload:\n  population: { clients: ${clients}, over: 200ms }\n  duration: 60s\n`;
    const stop = new AbortController();
    let progressMax = 0;
    const running = runScenario(parseScenarioText(text, 'pop-live.yaml'), { outDir, workers: 2, signal: stop.signal, onProgress: (p) => (progressMax = Math.max(progressMax, p.population?.connected ?? 0)), metrics: { listen: `127.0.0.1:${port}`, lingerMs: 0 } });
    // Every client's socket is open at the server; the gauge and the progress line say so while the run goes.
    await server.waitFor('accept', clients, 20_000);
    const live = await until('all clients connected', 30_000, async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const v = sumBy(text, 'wsrace_clients_connected', 'scenario')['pop-live'];
      return v === clients && progressMax === clients ? v : undefined;
    });
    stop.abort('SIGINT');
    const { summary } = await running;
    await server.close();
    expect(live).toBe(clients);
    expect(summary.interruptedBy).toBe('SIGINT');
    expect(summary.clients).toMatchObject({ clients, connected: clients, dropped: 0 });
  }, 60_000);

  it('serves the final values after the run, for the linger: attempts and stream messages equal summary.json', async () => {
    // Every third message goes unanswered: lost when its socket closes.
    const server = await serve({ ping: (c, seq) => seq % 3 !== 0 && pong(c, seq) });
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-listen-'));
    const outDir = join(dir, 'out');
    // The test ends the linger once it has its scrape, as a Ctrl-C would.
    const endLinger = new AbortController();
    const thresholds = 'thresholds:\n  - "totals.attempted > 0"\n  - "totals.closeCodes.1011 > 0"\n  - "messages.lost == 0"\n';
    const running = runStream(server.url, `  hold: 450ms\n  stream: { every: 100ms, within: 300ms }\n`, { extra: thresholds, options: { outDir, signal: endLinger.signal, metrics: { listen: `127.0.0.1:${port}`, lingerMs: 20_000 } } });
    // summary.json is written before the linger starts: a scrape after it sees the final values.
    await until('summary.json', 20_000, async () => (existsSync(join(outDir, 'summary.json')) ? true : undefined));
    const last = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    endLinger.abort();
    const { summary } = await running;
    const m = summary.messages!;
    expect(m.lost).toBeGreaterThan(0);
    expect(sumBy(last, 'wsrace_attempts_total', 'scenario')).toEqual({ stream: summary.totals.attempted });
    expect(sumBy(last, 'wsrace_messages_total', 'result')).toEqual({ replied: m.replied, lost: m.lost, ...(m.late > 0 ? { late: m.late } : {}) });
    expect(sumBy(last, 'wsrace_message_rtt_seconds_count', 'run')).toEqual({ [basename(outDir)]: m.rttMs.count });
    // The thresholds judged live: one holds, one fails; the message one is judged only at the end.
    const ok = last.split('\n').filter((l) => l.startsWith('wsrace_threshold_ok{'));
    expect(ok.map((l) => [/expr="([^"]*)"/.exec(l)![1], l.split(' ').pop()])).toEqual([
      ['totals.attempted > 0', '1'],
      ['totals.closeCodes.1011 > 0', '0'],
    ]);
    const samples = last.split('\n').filter((l) => l.startsWith('wsrace_'));
    expect(samples.every((l) => l.includes('scenario="stream"') && l.includes(`run="${basename(outDir)}"`) && l.includes('shard="0"'))).toBe(true);
    // Once the linger is over the port is closed.
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  }, 30_000);

  it('a port already taken: the run does not start (exit 3), naming the flag', async () => {
    const server = await startTestServer(() => ({ kind: 'accept' }));
    try {
      const dir = mkdtempSync(join(tmpdir(), 'wsrace-listen-'));
      const file = join(dir, 'taken.yaml');
      writeFileSync(file, `name: taken\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 200ms, rate: 10 }]\n`);
      const result = await runCli(['run', file, '--out', join(dir, 'out'), '--quiet', '--metrics-listen', `127.0.0.1:${server.port}`]);
      expect(result.code).toBe(3);
      expect(result.stderr).toContain('live metrics');
      expect(result.stderr).toContain('EADDRINUSE');
    } finally {
      await server.close();
    }
  });
});

describe('--processes', () => {
  it('refuses live metrics from a flag or the scenario (exit 2), before any shard starts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-listen-'));
    const file = join(dir, 'procs.yaml');
    const body = `name: procs\ntarget:\n  url: ws://127.0.0.1:9/\nload:\n  stages: [{ duration: 200ms, rate: 10 }]\n`;
    writeFileSync(file, body);
    const flag = await runCli(['run', file, '--out', join(dir, 'a'), '--processes', '2', '--pushgateway', 'http://127.0.0.1:9091']);
    writeFileSync(file, body + 'output:\n  prometheus:\n    listen: 127.0.0.1:9464\n');
    const key = await runCli(['run', file, '--out', join(dir, 'b'), '--processes', '2']);
    for (const r of [flag, key]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('do not go with --processes yet');
    }
  });
});

describe('the CLI with a Pushgateway that is down', () => {
  let server: TestServer;
  afterAll(() => server?.close());

  it('prints exactly one warning line, exits 0, and summary.json counts the dropped pushes', async () => {
    server = await startTestServer((n) => (n % 4 === 0 ? { kind: 'close', code: 1011, reason: 'not ready' } : { kind: 'accept' }));
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-push-'));
    const file = join(dir, 'down.yaml');
    writeFileSync(file, `name: down\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 500ms, rate: 40 }]\nsession:\n  hold: 20ms\n`);
    const closed = await freePort();
    const result = await runCli(['run', file, '--out', join(dir, 'out'), '--quiet', '--json', '--pushgateway', `http://127.0.0.1:${closed}`]);
    expect(result.code).toBe(0);
    const warnings = result.stderr.split('\n').filter((l) => l.includes('pushgateway'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^wsrace: pushgateway http:\/\/127\.0\.0\.1:\d+\/?: push failed \(.*ECONNREFUSED.*\)/);
    const summary = JSON.parse(result.stdout);
    expect(summary.totals.attempted).toBe(20);
    expect(summary.totals.closeCodes).toEqual({ '1000': server.tally.accept, '1011': server.tally.close_1011 });
    expect(summary.exports.pushgateway).toMatchObject({ pushes: 0, dropped: 1 });
  });
});
