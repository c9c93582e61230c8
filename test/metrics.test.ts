import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeScenarioCopy } from '../src/report/run-files.js';
import { MetricsExports } from '../src/metrics/exports.js';
import { redactUrl } from '../src/report/redact.js';
import { freePort } from './helpers/coldstart.js';
import { register as globalRegistry } from 'prom-client';
import { parseListen } from '../src/util/listen.js';
import { parseScenarioText } from '../src/scenario/load.js';
import { WsraceMetrics } from '../src/metrics/registry.js';
import { registrySeries, remoteWriteHeaders } from '../src/metrics/remote-write.js';
import { PushChannel } from '../src/metrics/channel.js';
import { metricsOptions } from '../src/cli/metrics-flags.js';
import { POPULATION_BASE, type AttemptRecord } from '../src/record/attempt.js';

const identity = { scenario: 'demo', run: '20260101T000000Z', shard: '0' };
const rec = (over: Partial<AttemptRecord>): AttemptRecord => ({ i: 0, w: 0, sched: 1000, start: 1001, tcp: 1002, up: 1003, open: 1005, first: null, end: 1100, outcome: 'close', code: 1000, ...over });

describe('parseListen', () => {
  it('takes host:port, [v6]:port and :port, and nothing else', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen(':9464')).toEqual({ host: undefined, port: 9464 });
    expect(parseListen('9464')).toBeNull();
    expect(parseListen('127.0.0.1:70000')).toBeNull();
    expect(parseListen('http://127.0.0.1:9464')).toBeNull();
  });
});

describe('WsraceMetrics', () => {
  it('counts every attempt once, labelled by outcome, code, status, error and phase, in its own registry', async () => {
    const m = new WsraceMetrics(identity);
    m.attempt(rec({}), 'unknown', 'unknown');
    // An arrival cut 1011 after it opened: a disconnect. A population client's retry accepted and closed 1011 at once never served it: no disconnect.
    m.attempt(rec({ code: 1011, serverClosed: true, ok: 1005, end: 1006 }), 'migrations', 'ready');
    m.attempt(rec({ code: 1011, serverClosed: true, ok: 1005, end: 1006, client: POPULATION_BASE, try: 1 }), 'migrations', 'ready');
    m.attempt(rec({ outcome: 'http', status: 503, open: null, code: undefined }), 'migrations', 'migrations');
    m.attempt(rec({ outcome: 'error', err: 'EMFILE', open: null, code: undefined }), 'ready', 'ready');
    m.attempt(rec({ outcome: 'dropped', start: null, open: null, code: undefined }), 'ready', 'ready');
    // A client's last 503, after which it stopped trying.
    m.attempt(rec({ outcome: 'http', status: 503, open: null, code: undefined, client: POPULATION_BASE + 1, try: 10, gaveUp: true }), 'ready', 'ready');
    const attempts = (await m.registry.getSingleMetric('wsrace_attempts_total')!.get()).values;
    expect(attempts.map((v) => [v.labels, v.value])).toEqual([
      [{ outcome: 'close', code: '1000', status: '', error: '', phase: 'unknown' }, 1],
      [{ outcome: 'close', code: '1011', status: '', error: '', phase: 'migrations' }, 2],
      [{ outcome: 'http', code: '', status: '503', error: '', phase: 'migrations' }, 1],
      [{ outcome: 'error', code: '', status: '', error: 'EMFILE', phase: 'ready' }, 1],
      [{ outcome: 'dropped', code: '', status: '', error: '', phase: 'ready' }, 1],
      [{ outcome: 'http', code: '', status: '503', error: '', phase: 'ready' }, 1],
    ]);
    const text = await m.text();
    // Three opened (open − sched = 5 ms), three failed handshakes (end − sched = 100 ms); dropped is neither.
    expect(text).toContain('wsrace_handshake_seconds_count{scenario="demo",run="20260101T000000Z",shard="0",phase="unknown",result="open"} 1');
    expect(text).toContain('wsrace_handshake_seconds_bucket{le="0.005",scenario="demo",run="20260101T000000Z",shard="0",phase="migrations",result="open"} 2');
    expect(text).toContain('wsrace_handshake_seconds_count{scenario="demo",run="20260101T000000Z",shard="0",phase="ready",result="fail"} 2');
    expect(text).toContain('wsrace_disconnects_total{code="1011",phase="ready",scenario="demo",run="20260101T000000Z",shard="0"} 1');
    expect(text).toContain('wsrace_schedule_lag_seconds_count{scenario="demo",run="20260101T000000Z",shard="0"} 6');
    expect(text).toContain('wsrace_clients_gave_up_total{outcome="http_503",scenario="demo",run="20260101T000000Z",shard="0"} 1');
    expect(await globalRegistry.metrics()).not.toContain('wsrace_');
  });

  it('marks the phase in effect 1 and the ones before it 0; ready follows the sample', async () => {
    const m = new WsraceMetrics(identity);
    m.sample(3, 2, 'unknown', false);
    m.sample(5, 2, 'migrations', false);
    m.sample(7, 4, 'ready', true);
    const phase = (await m.registry.getSingleMetric('wsrace_phase')!.get()).values.map((v) => [v.labels.phase, v.value]);
    expect(phase).toEqual([
      ['unknown', 0],
      ['migrations', 0],
      ['ready', 1],
    ]);
    expect((await m.registry.getSingleMetric('wsrace_ready')!.get()).values[0].value).toBe(1);
    expect((await m.registry.getSingleMetric('wsrace_open_sockets')!.get()).values[0].value).toBe(7);
    expect((await m.registry.getSingleMetric('wsrace_clients_connected')!.get()).values[0].value).toBe(4);
  });

  it('becomes remote-write series: histograms as _bucket/_sum/_count, labels sorted, empty ones left out', async () => {
    const m = new WsraceMetrics(identity);
    m.attempt(rec({}), 'unknown', 'unknown');
    const series = await registrySeries(m, 42);
    const attempts = series.find((s) => s.labels.__name__ === 'wsrace_attempts_total')!;
    expect(attempts).toEqual({ labels: { __name__: 'wsrace_attempts_total', code: '1000', outcome: 'close', phase: 'unknown', run: identity.run, scenario: 'demo', shard: '0' }, samples: [{ value: 1, timestamp: 42 }] });
    expect(series.filter((s) => s.labels.__name__ === 'wsrace_handshake_seconds_count').map((s) => s.samples[0].value)).toEqual([1]);
  });
});

describe('remoteWriteHeaders', () => {
  it('reads a bearer token, basic auth or named headers from the environment', () => {
    expect(remoteWriteHeaders({ WSRACE_RW_BEARER_TOKEN: 't0k', 'WSRACE_RW_HEADERS_X-Scope-OrgID': 'tenant' })).toEqual({ 'X-Scope-OrgID': 'tenant', Authorization: 'Bearer t0k' });
    expect(remoteWriteHeaders({ WSRACE_RW_USERNAME: 'u', WSRACE_RW_PASSWORD: 'p' })).toEqual({ Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` });
    expect(remoteWriteHeaders({ PATH: '/bin' })).toEqual({});
  });
});

describe('PushChannel', () => {
  it('drops a push while one is in flight, warns once, counts every failure', async () => {
    const warnings: string[] = [];
    let release!: () => void;
    let calls = 0;
    const channel = new PushChannel('test', () => {
      calls++;
      return calls === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.reject(new Error('down'));
    }, (w) => warnings.push(w));
    channel.push();
    channel.push(); // in flight: dropped, not queued
    expect(channel.counts).toEqual({ pushes: 0, dropped: 1 });
    release();
    await channel.end(); // the last push fails
    channel.push();
    await channel.end();
    expect(channel.counts).toEqual({ pushes: 1, dropped: 4 });
    expect(warnings).toEqual(['test: push failed (down); the run goes on, further failures are only counted (summary.json exports)']);
  });
});

describe('output.prometheus and the flags', () => {
  const scenario = (output: string) => `name: t\ntarget:\n  url: ws://127.0.0.1:9/\nload:\n  stages:\n    - { duration: 1s, rate: 1 }\noutput:\n  prometheus:\n${output}`;

  it('takes listen, linger, pushgateway and remoteWrite', () => {
    const { scenario: s } = parseScenarioText(scenario('    listen: 127.0.0.1:9464\n    linger: 2s\n    pushgateway: http://127.0.0.1:9091\n    remoteWrite: http://127.0.0.1:9090/api/v1/write\n'), 'm.yaml');
    expect(s.output?.prometheus).toEqual({ listen: '127.0.0.1:9464', linger: 2000, pushgateway: 'http://127.0.0.1:9091', remoteWrite: 'http://127.0.0.1:9090/api/v1/write' });
  });

  it('names the file and the key of a bad value', () => {
    expect(() => parseScenarioText(scenario('    listen: 9464\n'), 'm.yaml')).toThrow(/m\.yaml.*output\.prometheus\.listen.*host:port/s);
    expect(() => parseScenarioText(scenario('    pushgateway: ftp://x\n'), 'm.yaml')).toThrow(/output\.prometheus\.pushgateway.*http/s);
    expect(() => parseScenarioText(scenario('    scrape: yes\n'), 'm.yaml')).toThrow(/output\.prometheus/);
  });

  it('flags: checked, then handed to the run', () => {
    expect(metricsOptions({ 'metrics-listen': '127.0.0.1:9464', 'metrics-linger': '1s', pushgateway: 'http://127.0.0.1:9091' })).toEqual({ listen: '127.0.0.1:9464', lingerMs: 1000, pushgateway: 'http://127.0.0.1:9091' });
    expect(() => metricsOptions({ 'metrics-listen': 'localhost' })).toThrow('--metrics-listen localhost: expected host:port like 127.0.0.1:9464');
    expect(() => metricsOptions({ 'metrics-linger': 'soon' })).toThrow('--metrics-linger soon: expected a duration like 5s');
    expect(() => metricsOptions({ 'remote-write': '127.0.0.1:9090' })).toThrow('--remote-write 127.0.0.1:9090: expected an http:// or https:// URL');
  });
});

describe('scenario.json and summary.exports', () => {
  it('output.prometheus URLs are redacted like the target', () => {
    const text = `name: t\ntarget:\n  url: ws://127.0.0.1:9/\nload:\n  stages:\n    - { duration: 1s, rate: 1 }\noutput:\n  prometheus:\n    pushgateway: "http://user:pw-1234@127.0.0.1:9091/?token=abc"\n    remoteWrite: "https://127.0.0.1:9090/api/v1/write?api_key=xyz"\n    listen: 127.0.0.1:9464\n`;
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-metrics-copy-'));
    writeScenarioCopy(dir, parseScenarioText(text, 'm.yaml').scenario);
    const written = readFileSync(join(dir, 'scenario.json'), 'utf8');
    for (const secret of ['pw-1234', 'user:', 'abc', 'xyz']) expect(written).not.toContain(secret);
    expect(JSON.parse(written).output.prometheus.listen).toBe('127.0.0.1:9464');
  });

  it('summary.exports names each way out with its URL redacted, and what it delivered', async () => {
    const port = await freePort(); // nothing listens: every push is refused
    const warnings: string[] = [];
    const push = `http://user:pw-1234@127.0.0.1:${port}/`;
    const write = `http://127.0.0.1:${port}/w?token=abc`;
    const exports = new MetricsExports({ pushgateway: push, remoteWrite: write, pushEveryMs: 60_000 }, new WsraceMetrics(identity), identity, (w) => warnings.push(w));
    await exports.start();
    await exports.end();
    expect(exports.report()).toEqual({ pushgateway: { url: redactUrl(push), pushes: 0, dropped: 1 }, remoteWrite: { url: redactUrl(write), pushes: 0, dropped: 1 } });
    expect(JSON.stringify(exports.report())).not.toMatch(/pw-1234|user|abc/);
    expect(warnings).toHaveLength(2);
    expect(warnings.join('\n')).not.toMatch(/pw-1234|abc/);
  });
});

describe('the /metrics linger', () => {
  it('serves until the linger ends, or at once when the run is interrupted again (Ctrl-C)', async () => {
    const exports = new MetricsExports({ listen: '127.0.0.1:0', lingerMs: 60_000 }, new WsraceMetrics(identity), identity, () => {});
    await exports.start();
    const url = `http://127.0.0.1:${exports.port}/metrics`;
    const stop = new AbortController();
    const lingering = exports.linger(stop.signal);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('wsrace_ready{scenario="demo",run="20260101T000000Z",shard="0"} 0');
    expect((await fetch(url.replace('/metrics', '/'))).status).toBe(404);
    stop.abort();
    await lingering;
    await expect(fetch(url)).rejects.toThrow();
  });
});
