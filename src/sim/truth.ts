import { closeSync, openSync, write, writeSync } from 'node:fs';
import { countInto } from '../util/counts.js';

/**
 * The simulator's ground truth: one JSON line per thing the server did, so a test (or the
 * report) can check that what the load tester counted is what actually happened.
 *
 * Lines (all carry `at`, epoch ms as a float on the engine's clock, and `atMs`, ms since t0):
 *   {"type":"start","t0":…,"profile":…,"plan":{…}}
 *   {"type":"phase","phase":"<name>|ready|failed",…}      each transition, plus reason on failed
 *   {"type":"mark","mark":"health_ready|loss_window|bridge_ready|listening",…}
 *   {"type":"conn","action":…,"phase":…,"remote":"ip:port",…} exactly one per upgrade request
 *   {"type":"drop","action":"lost_message","connId":…,…}  a message the racy bridge swallowed
 *   {"type":"msg","connId":…,"remote":…,"seq":…,"phase":…,"action":…}  each stream ping, once its
 *        fate is final (so not in order of `at`): replied (delayMs, replyAt), dropped (why), unsent
 *   {"type":"stop","counts":{<action>:n},"messages":{…}}   on close
 */

/** Epoch ms with sub-ms resolution: the engine's own clock, so truth and attempts line up. */
export { now as nowEpochMs } from '../util/clock.js';

export type ConnAction =
  | 'accepted' // 101 and the protocol (after ready, or racy after the bridge is wired)
  | 'lost_message' // racy loss window: 101 + connection_established, first client message dropped
  | 'close_1011' // racy before the bridge: 101 then close 1011 "Service not ready: …"
  | 'close_1008' // --require-auth and no credentials
  | 'http_503' // gated/broken before ready, anything after a failed startup
  | 'queued' // queued: held, then completed with 101 (queuedMs says how long)
  | 'queued_abandoned' // queued: the client hung up while held
  | 'rejected_capacity' // maxConnections reached: HTTP 503
  | 'http_404'; // upgrade to a path other than the WebSocket path

export interface ConnRecord {
  type: 'conn';
  at: number;
  atMs: number;
  /** Phase when the upgrade arrived: a phase name, `ready` or `failed`. */
  phase: string;
  action: ConnAction;
  /** HTTP status or close code the client saw. */
  status?: number;
  code?: number;
  reason?: string;
  queuedMs?: number;
  connId?: string;
  path: string;
  remote: string;
}

/** Lines are joined into chunks of about this many characters, one write each. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Buffered line writer that never blocks the server on the disk: lines are joined into 64 KiB
 * chunks (or whatever `flushEveryMs` gathered) and handed to the OS by one asynchronous write at
 * a time, off the event loop and in order; chunks wait their turn while a write is in flight.
 * close() waits for it and writes the rest, so a test can read the file as soon as the
 * simulator's close() resolves. Costs: docs/simulator.md.
 */
export class TruthWriter {
  private fd: number | null;
  private lines: string[] = [];
  private chars = 0;
  /** Joined chunks waiting for the disk, oldest first. */
  private readonly chunks: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> | null = null;
  private error: Error | null = null;
  readonly counts: Record<string, number> = {};

  constructor(readonly file: string, private readonly flushEveryMs = 100) {
    try {
      this.fd = openSync(file, 'w');
    } catch (err) {
      throw new Error(`sim: cannot write the truth file ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
  }

  write(record: object): void {
    if (this.fd === null) return;
    const r = record as { type?: string; action?: string };
    if (r.type === 'conn' && r.action) countInto(this.counts, r.action);
    const line = JSON.stringify(record);
    this.lines.push(line);
    this.chars += line.length + 1;
    if (this.chars >= CHUNK_CHARS) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushEveryMs);
      this.timer.unref();
    }
  }

  /** Seals the lines so far into a chunk and starts writing, unless a write is in flight (its end starts the next). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.seal();
    this.pump();
  }

  /** Waits for the write in flight, writes the rest, closes the file. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.inflight !== null) await this.inflight;
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    this.seal();
    try {
      if (this.chunks.length > 0) writeSync(fd, this.chunks.splice(0).join(''));
    } finally {
      closeSync(fd);
    }
    if (this.error) throw new Error(`sim: writing the truth file ${this.file} failed (${(this.error as NodeJS.ErrnoException).code ?? this.error.message})`, { cause: this.error });
  }

  private seal(): void {
    if (this.lines.length === 0) return;
    this.chunks.push(`${this.lines.join('\n')}\n`);
    this.lines = [];
    this.chars = 0;
  }

  private pump(): void {
    if (this.fd === null || this.inflight !== null || this.chunks.length === 0) return;
    const done = () => {
      this.inflight = null;
      this.pump();
    };
    this.inflight = writeAll(this.fd, Buffer.from(this.chunks.shift()!)).then(done, (err: Error) => ((this.error ??= err), done()));
  }
}

/** fs.write until every byte is out (a write may take only part). */
async function writeAll(fd: number, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const n = await new Promise<number>((resolve, reject) => write(fd, data, off, data.length - off, null, (err, written) => (err ? reject(err) : resolve(written))));
    off += n;
  }
}
