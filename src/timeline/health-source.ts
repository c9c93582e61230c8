import http from 'node:http';
import https from 'node:https';
import { now } from '../util/clock.js';
import type { TimelineEvent } from './types.js';

export interface HealthOptions {
  url: string;
  intervalMs: number;
  timeoutMs: number;
  /** Dot path into the JSON body naming the phase (the backend's details.phase). */
  phaseField: string | null;
  /** Statuses that mean ready: '2xx' style classes or exact codes. */
  readyStatus: (number | string)[];
}

const MAX_BODY = 64 * 1024;

export function isReadyStatus(status: number, accepted: readonly (number | string)[]): boolean {
  return accepted.some((a) => (typeof a === 'number' ? a === status : /^[1-5]xx$/i.test(a) ? Math.floor(status / 100) === Number(a[0]) : Number(a) === status));
}

/** Reads a dot path (details.phase) from a parsed JSON body; only strings count. */
export function fieldAt(body: unknown, path: string): string | undefined {
  let node = body;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'string' ? node : undefined;
}

/**
 * Polls a health URL at a fixed interval, never more than one probe in flight, and records
 * every probe (status or no answer, latency, the phase field). The first ready status is the
 * health source's readiness signal.
 */
export class HealthSource {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private inFlight: http.ClientRequest | null = null;
  private saidReady = false;

  constructor(
    private readonly options: HealthOptions,
    private readonly emit: (e: TimelineEvent) => void,
  ) {}

  start(): void {
    this.probe();
  }

  private probe(): void {
    if (this.stopped) return;
    const started = now();
    const next = () => {
      this.inFlight = null;
      if (this.stopped) return;
      const wait = Math.max(0, started + this.options.intervalMs - now());
      this.timer = setTimeout(() => this.probe(), wait);
    };
    const client = this.options.url.startsWith('https:') ? https : http;
    let settled = false;
    // When the answer's head arrived: the server decided before it, never after. Readiness and a
    // body's phase are stamped then, so a slow answer cannot make the target look ready early.
    let answeredAt = 0;
    const finish = (status: number | null, body: string, error?: string) => {
      if (settled) return;
      settled = true;
      const at = now();
      const decided = answeredAt > 0 ? answeredAt : at;
      let phase: string | undefined;
      if (this.options.phaseField && body) {
        try {
          phase = fieldAt(JSON.parse(body), this.options.phaseField);
        } catch {
          phase = undefined;
        }
      }
      this.emit({ kind: 'probe', source: 'health', at: started, status, latencyMs: at - started, phase, error });
      if (phase) this.emit({ kind: 'phase', source: 'health', at: decided, phase, sentAt: started });
      // Ready once per stretch of ready answers: after a not-ready one (a restart, a new revision), again.
      const readyNow = status !== null && isReadyStatus(status, this.options.readyStatus);
      if (readyNow && !this.saidReady) this.emit({ kind: 'ready', source: 'health', at: decided });
      if (status !== null) this.saidReady = readyNow;
      next();
    };
    try {
      const req = client.get(this.options.url, { timeout: this.options.timeoutMs, headers: { 'user-agent': 'wsrace-health' } }, (res) => {
        answeredAt = now();
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < MAX_BODY) body += d;
        });
        res.on('end', () => finish(res.statusCode ?? 0, body));
        res.on('error', () => finish(res.statusCode ?? 0, body));
      });
      req.on('timeout', () => {
        req.destroy();
        finish(null, '', 'timeout');
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish(null, '', err.code ?? err.message));
      this.inFlight = req;
    } catch (err) {
      finish(null, '', (err as Error).message);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.inFlight?.destroy();
  }
}
