import type { Histogram } from 'hdr-histogram-js';
import { createHistogram, latencyStats, recordMs, type LatencyStats } from './histogram.js';
import type { AttemptRecord } from './attempt.js';
import { phaseAt, type PhaseTimeline } from '../timeline/attribute.js';

/** What a user felt: per reconnecting client, how many attempts and how long until it worked. */
export interface ClientsReport {
  clients: number;
  connected: number;
  neverConnected: number;
  retries: number;
  attemptsPerClient: { mean: number; max: number; counts: Record<string, number> };
  /** First attempt's scheduled start → the first socket that completed its script. */
  timeToConnectedMs: LatencyStats;
  /** By the phase the client's first attempt was scheduled in. */
  byPhase: Record<string, { clients: number; connected: number; timeToConnectedMs: LatencyStats }>;
}

interface Client {
  firstSched: number;
  attempts: number;
  connectedAt: number | null;
}

/** A socket "worked" for its client: it completed its script and the client closed it. */
export function connected(r: AttemptRecord): boolean {
  return r.outcome === 'close' && r.serverClosed === false && r.ok !== undefined;
}

/** Follows clients through their attempts (records arrive per worker, first attempt first). */
export class ClientTracker {
  private readonly clients = new Map<number, Client>();

  add(r: AttemptRecord): void {
    if (r.client === undefined) return;
    let c = this.clients.get(r.client);
    if (!c) this.clients.set(r.client, (c = { firstSched: r.sched, attempts: 0, connectedAt: null }));
    if ((r.try ?? 0) === 0) c.firstSched = r.sched;
    c.attempts++;
    if (c.connectedAt === null && connected(r)) c.connectedAt = r.ok!;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Folds the clients into the report, attributing each to the phase of its first attempt. */
  report(timeline: PhaseTimeline, t0: number): ClientsReport | undefined {
    if (this.clients.size === 0) return undefined;
    const all = createHistogram();
    const phases = new Map<string, { clients: number; connected: number; h: Histogram }>();
    const counts: Record<string, number> = {};
    let attempts = 0;
    let max = 0;
    let ok = 0;
    for (const c of this.clients.values()) {
      attempts += c.attempts;
      max = Math.max(max, c.attempts);
      counts[String(c.attempts)] = (counts[String(c.attempts)] ?? 0) + 1;
      const phase = phaseAt(timeline, c.firstSched - t0);
      let p = phases.get(phase);
      if (!p) phases.set(phase, (p = { clients: 0, connected: 0, h: createHistogram() }));
      p.clients++;
      if (c.connectedAt !== null) {
        ok++;
        p.connected++;
        recordMs(all, c.connectedAt - c.firstSched);
        recordMs(p.h, c.connectedAt - c.firstSched);
      }
    }
    return {
      clients: this.clients.size,
      connected: ok,
      neverConnected: this.clients.size - ok,
      retries: attempts - this.clients.size,
      attemptsPerClient: { mean: Math.round((attempts / this.clients.size) * 1000) / 1000, max, counts },
      timeToConnectedMs: latencyStats(all),
      byPhase: Object.fromEntries([...phases].map(([phase, p]) => [phase, { clients: p.clients, connected: p.connected, timeToConnectedMs: latencyStats(p.h) }])),
    };
  }
}
