import type { Histogram } from 'hdr-histogram-js';
import { createHistogram, latencyStats, recordMs, type LatencyStats } from '../record/histogram.js';
import type { ClientProgress } from '../record/clients.js';
import { phaseAt, type PhaseTimeline } from './attribute.js';

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

/** Folds the clients (record/clients.ts) into the report, attributing each to the phase of its first attempt; undefined without clients. */
export function clientsReport(clients: readonly ClientProgress[], timeline: PhaseTimeline, t0: number): ClientsReport | undefined {
  if (clients.length === 0) return undefined;
  const all = createHistogram();
  const phases = new Map<string, { clients: number; connected: number; h: Histogram }>();
  const counts: Record<string, number> = {};
  let attempts = 0;
  let max = 0;
  let ok = 0;
  for (const c of clients) {
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
    clients: clients.length,
    connected: ok,
    neverConnected: clients.length - ok,
    retries: attempts - clients.length,
    attemptsPerClient: { mean: Math.round((attempts / clients.length) * 1000) / 1000, max, counts },
    timeToConnectedMs: latencyStats(all),
    byPhase: Object.fromEntries([...phases].map(([phase, p]) => [phase, { clients: p.clients, connected: p.connected, timeToConnectedMs: latencyStats(p.h) }])),
  };
}
