import { closeSync, openSync, writeSync } from 'node:fs';
import type { AttemptRecord } from './attempt.js';
import { round3 } from '../util/round.js';

const rel = (t: number | null, t0: number) => (t === null ? null : round3(t - t0));

/** One attempt as an events.ndjson line: times in ms since T0 (µs precision). */
export function eventLine(r: AttemptRecord, t0: number, extra?: Record<string, unknown>): string {
  const line: Record<string, unknown> = {
    i: r.i,
    w: r.w,
    sched: rel(r.sched, t0),
    start: rel(r.start, t0),
    tcp: rel(r.tcp, t0),
    up: rel(r.up, t0),
    open: rel(r.open, t0),
    first: rel(r.first, t0),
    end: rel(r.end, t0),
    outcome: r.outcome,
  };
  if (r.code !== undefined) line.code = r.code;
  if (r.reason !== undefined) line.reason = r.reason;
  if (r.status !== undefined) line.status = r.status;
  if (r.err !== undefined) line.err = r.err;
  if (r.serverClosed !== undefined) line.serverClosed = r.serverClosed;
  if (r.lport !== undefined) line.lport = r.lport;
  if (r.portTaken !== undefined) line.portTaken = r.portTaken;
  if (r.tls !== undefined) line.tls = rel(r.tls, t0);
  if (r.ok !== undefined) line.ok = rel(r.ok, t0);
  if (r.client !== undefined) {
    line.client = r.client;
    line.try = r.try;
    if (r.gaveUp) line.gaveUp = true;
  }
  if (r.msgs !== undefined) line.msgs = r.msgs;
  if (r.reply !== undefined) line.reply = rel(r.reply, t0);
  if (r.step !== undefined) {
    line.step = r.step;
    line.stepFail = r.stepFail;
  }
  if (extra) Object.assign(line, extra);
  return JSON.stringify(line);
}

/**
 * events.ndjson, appended batch by batch as the run goes. Each batch is one synchronous write,
 * so even a process that exits at once (a second Ctrl-C) leaves only whole lines behind.
 */
export class EventsFile {
  private fd: number | null;
  constructor(
    path: string,
    private readonly t0: () => number,
    flags: 'w' | 'a' = 'w',
  ) {
    this.fd = openSync(path, flags);
  }

  write(records: readonly AttemptRecord[], extra?: (r: AttemptRecord) => Record<string, unknown> | undefined): void {
    if (records.length === 0) return;
    const t0 = this.t0();
    let out = '';
    for (const r of records) out += eventLine(r, t0, extra?.(r)) + '\n';
    if (this.fd === null) return;
    const buf = Buffer.from(out, 'utf8');
    for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off, buf.length - off);
  }

  async close(): Promise<void> {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
