import { closeSync, openSync, writeSync } from 'node:fs';

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
 *   {"type":"stop","counts":{<action>:n}}                  on close
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

/**
 * Buffered line writer. Lines go out at least every 100 ms and synchronously on close, so a
 * test can read the file as soon as close() resolves. Sync writes keep ordering trivial; the
 * volume is one short line per connection.
 */
export class TruthWriter {
  private fd: number | null;
  private buf: string[] = [];
  private timer: NodeJS.Timeout | null = null;
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
    if (r.type === 'conn' && r.action) this.counts[r.action] = (this.counts[r.action] ?? 0) + 1;
    this.buf.push(JSON.stringify(record));
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushEveryMs);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.fd === null || this.buf.length === 0) return;
    const text = `${this.buf.join('\n')}\n`;
    this.buf = [];
    writeSync(this.fd, text);
  }

  close(): void {
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
