import { mkdtempSync } from 'node:fs';
import cluster from 'node:cluster';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { checkProcesses, clockOrigin, processOptions, resolveSimOptions, runSim, truthFileOf, type SimCluster } from '../../src/sim/index.js';
import { parseScenarioText } from '../../src/scenario/load.js';
import { runScenario } from '../../src/run/run.js';
import { readTruth } from './helpers.js';

describe('sim --processes (pure)', () => {
  it('names process k\'s truth file FILE.k.ext', () => {
    expect(truthFileOf('/tmp/x/truth.ndjson', 0)).toBe('/tmp/x/truth.0.ndjson');
    expect(truthFileOf('/tmp/x/truth.ndjson', 12)).toBe('/tmp/x/truth.12.ndjson');
    expect(truthFileOf('truth', 3)).toBe('truth.3');
    expect(truthFileOf('a.b/run.jsonl', 1)).toBe('a.b/run.1.jsonl');
  });

  it('gives every process the shared t0, its own truth file, and the phase log to process 0 only', () => {
    const options = resolveSimOptions({ profile: 'rollout', truth: '/tmp/t.ndjson' });
    expect(processOptions({ options, index: 0, count: 3, t0: 1000.5 })).toEqual({ ...options, t0: 1000.5, logs: true, truth: '/tmp/t.0.ndjson' });
    expect(processOptions({ options, index: 2, count: 3, t0: 1000.5 })).toEqual({ ...options, t0: 1000.5, logs: false, truth: '/tmp/t.2.ndjson' });
    const noTruth = resolveSimOptions({ profile: 'rollout' });
    expect(processOptions({ options: noTruth, index: 1, count: 2, t0: 7 })).toEqual({ ...noTruth, t0: 7, logs: false });
  });

  it('accepts 1–64 processes, and refuse only alone', () => {
    expect(() => checkProcesses(1, 'refuse')).not.toThrow();
    expect(() => checkProcesses(64, 'rollout')).not.toThrow();
    expect(() => checkProcesses(0, 'rollout')).toThrow('sim option --processes: expected a whole number from 1 to 64, found 0');
    expect(() => checkProcesses(2.5, 'racy')).toThrow('found 2.5');
    expect(() => checkProcesses(65, 'racy')).toThrow('found 65');
    expect(() => checkProcesses(2, 'refuse')).toThrow('sim option --processes: the refuse profile runs in one process (it may not listen before ready)');
  });

  it('puts a given t0 on this process\'s performance clock (past or future), else the start call', () => {
    expect(clockOrigin(undefined, 1_000_000, 250.5)).toEqual({ t0Perf: 250.5, t0: 1_000_250.5 });
    expect(clockOrigin(999_900, 1_000_000, 250.5)).toEqual({ t0Perf: -100, t0: 999_900 });
    expect(clockOrigin(1_000_400, 1_000_000, 250.5)).toEqual({ t0Perf: 400, t0: 1_000_400 });
  });
});

describe('sim --processes 2 (real sockets)', () => {
  it('fails with the processes\' own error when the port is taken, and leaves no process behind', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    const stdout = new PassThrough().resume();
    const stderr = new PassThrough().resume();
    try {
      await expect(runSim({ profile: 'rollout', processes: 2, port }, { stdout, stderr })).rejects.toThrow(`bind EADDRINUSE 127.0.0.1:${port}`);
      expect(Object.keys(cluster.workers ?? {}), 'every process has exited when it rejects').toEqual([]);
    } finally {
      taken.close();
    }
  }, 15_000);

  it('--rollout-on-request: one POST reaches one process, and by its 202 B has started at the same instant in both; later ones get 409, wherever they land', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-simproc-req-'));
    const truth = join(dir, 'truth.ndjson');
    const stdout = new PassThrough().resume();
    const stderr = new PassThrough().resume();
    const ac = new AbortController();
    let started!: (c: SimCluster) => void;
    const up = new Promise<SimCluster>((resolve) => (started = resolve));
    const simDone = runSim({ profile: 'rollout', processes: 2, port: 0, timeScale: 0.02, rolloutOnRequest: true, new: 'gated', truth }, { stdout, stderr, signal: ac.signal, onCluster: started });
    try {
      const c = await up;
      const post = () => fetch(`${c.httpUrl}/_sim/rollout`, { method: 'POST' }).then(async (r) => [r.status, await r.json()] as const);
      // Five at once, over five connections the two processes share out: one wins, wherever it landed, and the primary's word is final.
      const first = await Promise.all([post(), post(), post(), post(), post()]);
      expect(first.map(([s]) => s).sort()).toEqual([202, 409, 409, 409, 409]);
      const atMs = (first.find(([s]) => s === 202)![1] as { rolloutAtMs: number }).rolloutAtMs;
      expect((await post())[0]).toBe(409);
      // The 202 came after the primary told the other process, so the stop that follows reaches it after its `rollout`.
      ac.abort();
      await simDone;
      const lines = c.truthFiles.map((f) => readTruth(f).filter((l) => l.type === 'rollout'));
      expect(lines.map((l) => l.length)).toEqual([1, 1]);
      expect(lines.map((l) => (l[0].rollout as { rolloutAtMs: number }).rolloutAtMs)).toEqual([atMs, atMs]);
    } finally {
      ac.abort();
      await simDone.catch(() => undefined);
    }
  }, 20_000);

  it('a population through a rollout served by two processes: disconnects equal the sum of both processes\' truth closes, and process 0 alone logs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-simproc-'));
    const truth = join(dir, 'truth.ndjson');
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    stderr.resume();
    const ac = new AbortController();
    let started!: (c: SimCluster) => void;
    const up = new Promise<SimCluster>((resolve) => (started = resolve));
    // B gated (no 1011s: every disconnect is one of A's 1012s), traffic moves at B's ready ~10.4 s
    // wall after t0: the processes start in ~1 s, the run's workers in 1–3 s (up to 6 s with both
    // cores oversubscribed several times), and its clients are all connected 0.3 s after that.
    const simDone = runSim({ profile: 'rollout', processes: 2, port: 0, timeScale: 0.02, rolloutAt: '500s', new: 'gated', drain: '1012', drainOver: '10s', truth }, { stdout, stderr, signal: ac.signal, onCluster: started });
    const c = await up;
    const clients = 300;
    const text = `name: simproc\ntarget:\n  url: ${c.url}\n  handshakeTimeout: 2s\nload:\n  population: { clients: ${clients}, over: 300ms }\n  duration: ${Math.max(3000, Math.round(c.t0 + 12_000 - Date.now()))}ms\n`;
    try {
      const { summary } = await runScenario(parseScenarioText(text, 'simproc.yaml'), { outDir: join(dir, 'run'), workers: 1 });
      ac.abort();
      await simDone;
      const files = c.truthFiles.map((f) => readTruth(f));
      const closes = files.map((lines) => lines.filter((l) => l.type === 'close').length);
      expect(c.truthFiles).toEqual([join(dir, 'truth.0.ndjson'), join(dir, 'truth.1.ndjson')]);
      expect(closes.every((n) => n > 0), `both processes held sockets and drained them (${closes.join(' + ')})`).toBe(true);
      expect(closes[0] + closes[1]).toBe(clients);
      expect(summary.disconnects).toMatchObject({ total: closes[0] + closes[1], closeCodes: { '1012': closes[0] + closes[1] } });
      expect(summary.clients).toMatchObject({ dropped: clients, reconnected: clients, neverBack: 0 });
      // One t0 in both truth files, and one phase log: A's ready, B's seven phases, B's ready.
      expect(new Set(files.map((lines) => lines.find((l) => l.type === 'start')!.t0))).toEqual(new Set([c.t0]));
      expect(out.split('\n').filter((l) => l.startsWith('STARTUP COMPLETE'))).toHaveLength(2);
      expect(out.split('\n').filter((l) => l.startsWith('PHASE TRANSITION'))).toHaveLength(7);
    } finally {
      ac.abort();
      await simDone.catch(() => undefined);
    }
  }, 40_000);
});
