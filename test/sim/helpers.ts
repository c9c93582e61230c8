import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { WebSocket, type ClientOptions } from 'ws';
import { nowEpochMs, type MessageRecord } from '../../src/sim/index.js';

/** Real-socket client helpers: every wait is on an event, bounded by a timeout. */

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

export type Msg = { type: string; [k: string]: unknown };

/** Messages in arrival order; listening from construction so nothing is missed. */
export class Inbox {
  private queue: Msg[] = [];
  private waiting: ((m: Msg) => void) | null = null;
  constructor(ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as Msg;
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(m);
      } else this.queue.push(m);
    });
  }
  next(ms = 2000): Promise<Msg> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return withTimeout(new Promise<Msg>((resolve) => (this.waiting = resolve)), ms, 'a message');
  }
  get pending(): number {
    return this.queue.length;
  }
}

export type Outcome =
  | { kind: 'open'; ws: WebSocket; openedAt: number; inbox: Inbox; closed: Promise<{ code: number; reason: string }> }
  | { kind: 'http'; status: number; headers: IncomingHttpHeaders; body: string; at: number }
  | { kind: 'error'; code?: string; message: string };

/** One connection attempt, resolved by what the client saw: open, an HTTP status, or an error. */
export function attempt(url: string, opts: ClientOptions & { protocols?: string[] } = {}, ms = 5000): Promise<Outcome> {
  const { protocols, ...options } = opts;
  const ws = new WebSocket(url, protocols ?? [], { perMessageDeflate: false, ...options });
  const inbox = new Inbox(ws);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const p = new Promise<Outcome>((resolve) => {
    ws.once('open', () => resolve({ kind: 'open', ws, openedAt: nowEpochMs(), inbox, closed }));
    ws.once('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        ws.on('error', () => {});
        req.destroy();
        resolve({ kind: 'http', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), at: nowEpochMs() });
      });
    });
    ws.once('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'error', code: err.code, message: err.message }));
  });
  return withTimeout(p, ms, `the outcome of connecting to ${url}`);
}

export async function openOrFail(url: string, opts: ClientOptions & { protocols?: string[] } = {}): Promise<Extract<Outcome, { kind: 'open' }>> {
  const o = await attempt(url, opts);
  if (o.kind !== 'open') throw new Error(`expected the socket to open, got ${JSON.stringify(o)}`);
  return o;
}

export function tmpFile(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'wsrace-sim-')), name);
}

export type TruthLine = { type: string; action?: string; [k: string]: unknown };

export function readTruth(file: string): TruthLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TruthLine);
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await withTimeout(fetch(url), 2000, `GET ${url}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * The phase the simulator was in at `at` (epoch ms), by its own truth file: the last phase line
 * at or before it. The simulator switches its state and then writes the line, on one thread, so
 * an upgrade it handled at `at` saw exactly this phase, however late its timers ran.
 */
export function phaseInEffect(lines: TruthLine[], at: number): string | undefined {
  let phase: string | undefined;
  for (const l of lines) if (l.type === 'phase' && (l.at as number) <= at) phase = l.phase as string;
  return phase;
}

/** The simulator's next truth `msg` line (a stream ping's fate) that `pick` accepts. */
export function nextMsg(sim: { events: EventEmitter }, pick: (rec: MessageRecord) => boolean, ms = 5000): Promise<MessageRecord> {
  let listener!: (rec: MessageRecord) => void;
  const p = new Promise<MessageRecord>((resolve) => {
    listener = (rec) => {
      if (pick(rec)) resolve(rec);
    };
    sim.events.on('msg', listener);
  });
  return withTimeout(p, ms, 'a stream message settled by the simulator').finally(() => sim.events.off('msg', listener));
}

/** A stream ping as wsrace's session.stream sends it. */
export const streamPing = (seq: number): string => JSON.stringify({ type: 'ping', seq, sentAt: seq * 10 });
