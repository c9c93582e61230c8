import { mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { afterEach } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseScenarioText } from '../../src/scenario/load.js';
import { runScenario, type RunResult } from '../../src/run/run.js';
import type { RunOptions } from '../../src/run/options.js';
import type { MessageLine } from '../../src/record/messages.js';
import type { EventLine } from '../../src/timeline/phase-report.js';
import { startServerProcess } from './echo-server-process.js';


/** One client socket as a stream test server saw it. */
export interface StreamConn {
  /** Accept order, from 0. */
  n: number;
  ws: WebSocket;
  /** Every text message received, parsed (null when not JSON), in order. */
  received: unknown[];
  /** The `seq` of each stream message received, in order. */
  seqs: number[];
  /** The client's close code once it closed (1000 after a hold, 1001 when interrupted …). */
  closeCode: number | null;
}

export interface StreamServer {
  url: string;
  conns: StreamConn[];
  /** Resolves once `n` sockets have closed, rejects after `ms`. */
  closed(n: number, ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface StreamHandlers {
  /** A socket opened (before any message). */
  open?(c: StreamConn): void;
  /** A message with a numeric `seq` (the stream's), received at `at` (performance.now()). */
  ping?(c: StreamConn, seq: number, at: number, msg: Record<string, unknown>): void;
}

/**
 * A ws server on 127.0.0.1 for stream tests: it records what every socket sent and lets the test
 * decide how to answer each stream message (delay, reorder, duplicate, drop, close).
 */
export async function startStreamServer(h: StreamHandlers): Promise<StreamServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const conns: StreamConn[] = [];
  const waiters = new Set<() => void>();
  let closedCount = 0;
  wss.on('connection', (ws) => {
    const c: StreamConn = { n: conns.length, ws, received: [], seqs: [], closeCode: null };
    conns.push(c);
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      c.closeCode = code;
      closedCount++;
      for (const w of waiters) w();
    });
    ws.on('message', (data) => {
      const at = performance.now();
      let msg: unknown = null;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        // not JSON: recorded as null
      }
      c.received.push(msg);
      const seq = (msg as { seq?: unknown } | null)?.seq;
      if (typeof seq !== 'number') return;
      c.seqs.push(seq);
      h.ping?.(c, seq, at, msg as Record<string, unknown>);
    });
    h.open?.(c);
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`,
    conns,
    closed: (n, ms) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (closedCount < n) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`stream server: ${closedCount} of ${n} sockets closed in ${ms} ms`));
        }, ms);
        waiters.add(check);
        check();
      }),
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    },
  };
}

export const pong = (c: StreamConn, seq: number, extra = ''): void => c.ws.send(`{"type":"pong","seq":${seq}${extra}}`);

/**
 * Answers `seq` `ms` after `at` (a timer to just short of it, then a busy wait: a Node timer
 * alone fires up to a millisecond early or late) and calls `held` with the delay the server
 * really applied (more than `ms` when this thread was busy).
 */
export function pongAfter(c: StreamConn, seq: number, at: number, ms: number, held: (ms: number) => void): void {
  setTimeout(
    () => {
      let t = performance.now();
      for (let spin = 0; t - at < ms && spin < 1e8; spin++) t = performance.now();
      pong(c, seq);
      held(t - at);
    },
    Math.max(0, ms - 2),
  );
}

/**
 * A plain `ws` client streaming from its own thread (plain-stream-worker.mjs): resolves with each
 * message's round trip in ms, by "p<socket>:<seq>" (the `conn` it sends is "p<socket>").
 */
export function plainStream(url: string, opts: { sockets: number; everyMs: number; count: number; timeoutMs: number }): Promise<Record<string, number>> {
  const w = new Worker(new URL('./plain-stream-worker.mjs', import.meta.url), { workerData: { url, ...opts } });
  return new Promise((resolve, reject) => {
    w.once('message', (m: { rtts: Record<string, number> }) => resolve(m.rtts));
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`plain stream worker exited ${code} before it answered`)));
  });
}

/** The p-th percentile (0–100) of `xs`, nearest rank. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/**
 * Stream servers for one test file, closed after each test: `serve` starts one, `track` adds
 * anything else with a close() (a raw or flood server).
 */
export function streamServers(): { serve: typeof startStreamServer; track<T extends { close(): Promise<void> }>(s: T): T } {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });
  const track = <T extends { close(): Promise<void> }>(s: T): T => (open.push(s), s);
  return { serve: async (h) => track(await startStreamServer(h)), track };
}

/** A run of `session` against `url`: `load` (YAML lines under load:) and the extra top-level YAML. */
export async function runStream(url: string, session: string, opts: { load?: string; extra?: string; options?: RunOptions } = {}): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'wsrace-stream-'));
  const load = opts.load ?? '  stages: [{ duration: 200ms, rate: 20 }]\n';
  const text = `name: stream\ntarget:\n  url: ${url}\nload:\n${load}session:\n${session}${opts.extra ?? ''}drainTimeout: 10s\n`;
  return runScenario(parseScenarioText(text, join(dir, 'stream.yaml')), { outDir: join(dir, 'out'), workers: 1, ...opts.options });
}

export function readMessages(outDir: string): MessageLine[] {
  return readNdjson<MessageLine>(join(outDir, 'messages.ndjson'));
}

export function readEventLines(outDir: string): EventLine[] {
  return readNdjson<EventLine>(join(outDir, 'events.ndjson'));
}

function readNdjson<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Messages sent per attempt (replied, late and lost lines), by attempt index. */
export function sentByAttempt(lines: MessageLine[]): Map<number, { sent: number; replied: number; late: number; lost: number }> {
  const out = new Map<number, { sent: number; replied: number; late: number; lost: number }>();
  for (const l of lines) {
    if (l.r !== 'replied' && l.r !== 'late' && l.r !== 'lost') continue;
    let m = out.get(l.i);
    if (!m) out.set(l.i, (m = { sent: 0, replied: 0, late: 0, lost: 0 }));
    m.sent++;
    m[l.r]++;
  }
  return out;
}

/**
 * What must hold in every run's files: each attempt's events.ndjson `msgs` equals its lines in
 * messages.ndjson, sent = replied + late + lost, and summary.messages adds up to the lines.
 */
export function expectFilesAgree(result: RunResult, expect: typeof import('vitest').expect): void {
  const lines = readMessages(result.outDir);
  const events = readEventLines(result.outDir);
  const byAttempt = sentByAttempt(lines);
  for (const e of events) expect(e.msgs ?? null, `attempt ${e.i}`).toEqual(byAttempt.get(e.i) ?? null);
  expect(events.filter((e) => e.msgs).length).toBe(byAttempt.size);
  const m = result.summary.messages!;
  const count = (r: string) => lines.filter((l) => l.r === r).length;
  expect({ sent: m.sent, replied: m.replied, late: m.late, lost: m.lost, duplicates: m.duplicates, unmatched: m.unmatched, serverGaps: m.serverGaps }).toEqual({
    sent: count('replied') + count('late') + count('lost'),
    replied: count('replied'),
    late: count('late'),
    lost: count('lost'),
    duplicates: count('duplicate'),
    unmatched: count('unmatched'),
    serverGaps: count('gap'),
  });
  expect(m.sent).toBe(m.replied + m.late + m.lost);
  expect(m.outOfOrder).toBe(lines.filter((l) => l.ooo).length);
  // The phases (and before/after ready) partition the same lines.
  const phases = Object.values(result.summary.phases).map((p) => p.messages).filter((x) => x !== undefined);
  for (const key of ['sent', 'replied', 'late', 'lost', 'outOfOrder', 'duplicates', 'unmatched', 'serverGaps', 'serverMissing'] as const) {
    expect(phases.reduce((n, p) => n + p[key], 0), `phases' ${key}`).toBe(m[key]);
    expect(result.summary.beforeReady.messages![key] + result.summary.afterReady.messages![key], `before + after ready ${key}`).toBe(m[key]);
  }
  expect(m.rttMs.count).toBe(m.replied + m.late);
  expect(m.sendLagMs.count).toBe(m.sent);
  // Each block's send lag is read back from the files (message k due at open + (k − 1)·every): one
  // per message sent, and the largest the workers measured (the files' times have 3 decimals).
  const before = result.summary.beforeReady.messages!.sendLagMs;
  const after = result.summary.afterReady.messages!.sendLagMs;
  expect(phases.reduce((n, p) => n + p.sendLagMs.count, 0), "phases' send lag").toBe(m.sent);
  expect(before.count + after.count, 'before + after ready send lag').toBe(m.sent);
  const workersMax = m.sendLagMs.max ?? 0;
  expect(Math.abs(Math.max(before.max ?? 0, after.max ?? 0) - workersMax), 'the largest send lag').toBeLessThanOrEqual(0.002 * workersMax + 0.003);
}

/**
 * Reads a client's masked frames from a raw socket (raw-server.ts) and calls `frame(opcode,
 * payload)` for each; returns nothing, listens until the socket ends.
 */
export function readClientFrames(socket: import('node:net').Socket, frame: (opcode: number, payload: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (let guard = 0; guard < 1e6; guard++) {
      if (buf.length < 2) return;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (buf[1] & 0x80) !== 0;
      const end = off + (masked ? 4 : 0) + len;
      if (buf.length < end) return;
      const payload = Buffer.from(buf.subarray(end - len, end));
      if (masked) for (let k = 0; k < len; k++) payload[k] ^= buf[off + (k & 3)];
      frame(buf[0] & 0x0f, payload);
      buf = buf.subarray(end);
    }
  });
}

/** The gaps a reader sees in the flood server's numbers 1..last (every thousandth skipped, `last` not one of them). */
export const floodGaps = (last: number): number => Math.floor(last / 1000);
/** Messages the flood server sends per socket. */
export const floodSent = (last: number): number => last - floodGaps(last);

/**
 * A ws server in its own process (its memory and CPU are not the test's): answers `{"seq":n}`
 * with a pong and, when `last` > 0, pushes `{"type":"tick","n":k,"pad":…}` (4 KB) for k = 1 …
 * `last` as fast as the socket takes them, skipping every thousandth number, then `{"type":"flood-done"}`. A
 * fixed number, so the counts a run must show are known before it starts.
 */
export async function startFloodServerProcess(last: number): Promise<{ url: string; close(): Promise<void> }> {
  if (last > 0 && last % 1000 === 0) throw new Error('flood server: the last number must not be a skipped one');
  const code = `
    const { WebSocketServer } = require('ws');
    const PAD = 'x'.repeat(4000);
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    wss.on('listening', () => console.log(wss.address().port));
    const pump = (ws, n) => {
      for (let k = 0; k < 256 && n <= ${last} && ws.readyState === 1 && ws.bufferedAmount < 1 << 20; k++, n++) {
        if (n % 1000 !== 0) ws.send('{"type":"tick","n":' + n + ',"pad":"' + PAD + '"}');
      }
      if (ws.readyState !== 1) return;
      if (n <= ${last}) setImmediate(pump, ws, n);
      else ws.send('{"type":"flood-done"}');
    };
    wss.on('connection', (ws) => {
      ws.on('error', () => undefined);
      ws.on('message', (m) => {
        const seq = JSON.parse(m.toString()).seq;
        if (typeof seq === 'number') ws.send('{"type":"pong","seq":' + seq + '}');
      });
      pump(ws, 1);
    });
    setTimeout(() => process.exit(0), 120000).unref();
    process.on('SIGTERM', () => process.exit(0));
  `;
  return startServerProcess(code, 'flood server');
}
