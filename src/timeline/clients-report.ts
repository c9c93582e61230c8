import type { Histogram } from 'hdr-histogram-js';
import { createHistogram, latencyStats, recordMs, type LatencyStats } from '../record/histogram.js';
import { ClientTracker, type ClientProgress, type Reconnects } from '../record/clients.js';
import type { AttemptRecord } from '../record/attempt.js';
import type { Totals } from '../record/totals.js';
import { phaseAt, type PhaseTimeline } from './attribute.js';
import { round3 } from '../util/round.js';
import { countInto } from '../util/counts.js';

/** What a user felt: per reconnecting client, how many attempts and how long until it worked. */
export interface ClientsReport {
  clients: number;
  connected: number;
  neverConnected: number;
  retries: number;
  attemptsPerClient: AttemptCounts & { mean: number };
  /** First attempt's scheduled start → the first socket that completed its script. */
  timeToConnectedMs: LatencyStats;
  /** By the phase the client's first attempt was scheduled in. */
  byPhase: Record<string, { clients: number; connected: number; timeToConnectedMs: LatencyStats }>;
  /** Clients one of whose working sockets was cut, and how often; back after every cut; not back at the end. */
  dropped: number;
  drops: number;
  reconnected: number;
  neverBack: number;
  /** Of the clients not back, how many ended on each outcome (reconnect.on's keys): one `on` does not list stopped them at once, `interrupted` was still trying at the end. */
  neverBackLast: Record<string, number>;
  /**
   * Of the clients that never connected, and of those not back, how many had stopped trying
   * before the end (their policy's `max` used, or an outcome `on` does not list); the others
   * were still retrying when the run ended.
   */
  gaveUp?: { neverConnected: number; neverBack: number };
  /** Per comeback: the drop → the next working socket, → its first answered message (with a stream), and the attempts it took. */
  reconnectMs: LatencyStats;
  outageMs: LatencyStats;
  /** Every retry that started: its start − the moment its backoff set (the drop or failure as the worker saw it + the delay). */
  retryLagMs: LatencyStats;
  attemptsPerReconnect: AttemptCounts & { mean: number | null };
  /** Every retry (a client's attempts after its first) by the phase it was scheduled in, counted like totals: the herd's outcomes. */
  retriesByPhase?: Record<string, Totals>;
}

/** How many attempts it took (per client, or per comeback): their distribution, and how many took each count. */
export interface AttemptCounts {
  max: number;
  /** The smallest count that many of them took at most; null when none. */
  p50: number | null;
  p90: number | null;
  p99: number | null;
  /** "<attempts>": how many took that many. */
  counts: Record<string, number>;
}

/**
 * The q-quantile of a distribution given as counts, {"1": 950, "3": 50}: the smallest value at
 * least ⌈q·n⌉ of the n entries are at or below (p99 of 100 entries is the 99th smallest). null
 * when there are none.
 */
export function countQuantile(counts: Record<string, number>, q: number): number | null {
  const values = Object.keys(counts).map(Number).sort((a, b) => a - b);
  const n = values.reduce((a, v) => a + counts[String(v)], 0);
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil(q * n));
  let seen = 0;
  for (const v of values) {
    seen += counts[String(v)];
    if (seen >= rank) return v;
  }
  return values[values.length - 1];
}

/** max, p50, p90, p99 and the counts themselves. */
export function attemptCounts(counts: Record<string, number>): AttemptCounts {
  return { max: Math.max(0, ...Object.keys(counts).map(Number)), p50: countQuantile(counts, 0.5), p90: countQuantile(counts, 0.9), p99: countQuantile(counts, 0.99), counts };
}

/** Folds the clients (record/clients.ts) into the report, attributing each to the phase of its first attempt; undefined without clients. */
export function clientsReport(clients: readonly ClientProgress[], timeline: PhaseTimeline, t0: number, reconnects?: Reconnects): ClientsReport | undefined {
  if (clients.length === 0) return undefined;
  return { ...firstConnections(clients, timeline, t0), ...comebacks(clients, reconnects) };
}

/** The drops and the comebacks: what a connected user felt when the target cut them. */
function comebacks(clients: readonly ClientProgress[], reconnects: Reconnects | undefined) {
  const dropped = clients.filter((c) => c.drops > 0);
  const notBack = dropped.filter((c) => c.droppedAt !== null);
  const neverBackLast: Record<string, number> = {};
  for (const c of notBack) countInto(neverBackLast, c.last);
  const counts = reconnects?.attempts ?? {};
  const n = Object.values(counts).reduce((a, b) => a + b, 0);
  const sum = Object.entries(counts).reduce((a, [k, v]) => a + Number(k) * v, 0);
  return {
    dropped: dropped.length,
    drops: dropped.reduce((a, c) => a + c.drops, 0),
    reconnected: dropped.length - notBack.length,
    neverBack: notBack.length,
    neverBackLast,
    gaveUp: { neverConnected: clients.filter((c) => c.connectedAt === null && c.gaveUp).length, neverBack: notBack.filter((c) => c.gaveUp).length },
    reconnectMs: latencyStats(reconnects?.reconnectMs ?? createHistogram()),
    outageMs: latencyStats(reconnects?.outageMs ?? createHistogram()),
    retryLagMs: latencyStats(reconnects?.retryLagMs ?? createHistogram()),
    attemptsPerReconnect: { mean: n > 0 ? round3(sum / n) : null, ...attemptCounts(counts) },
  };
}

/** The first connections: how many clients got one, after how many attempts and how long. */
function firstConnections(clients: readonly ClientProgress[], timeline: PhaseTimeline, t0: number) {
  const all = createHistogram();
  const phases = new Map<string, { clients: number; connected: number; h: Histogram }>();
  const counts: Record<string, number> = {};
  let attempts = 0;
  let ok = 0;
  for (const c of clients) {
    attempts += c.attempts;
    countInto(counts, String(c.attempts));
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
    attemptsPerClient: { mean: round3(attempts / clients.length), ...attemptCounts(counts) },
    timeToConnectedMs: latencyStats(all),
    byPhase: Object.fromEntries([...phases].map(([phase, p]) => [phase, { clients: p.clients, connected: p.connected, timeToConnectedMs: latencyStats(p.h) }])),
  };
}

/** events.ndjson's times (ms since T0) that the tracker reads as epoch ms. */
const EVENT_TIMES = ['sched', 'start', 'open', 'ok', 'reply', 'end'] as const;

/**
 * The clients block of a run from its events.ndjson lines alone (a merge of shards, whose
 * trackers each saw only their share), fed in the file's order, which is by scheduled start, so
 * a client's attempts come in the order it made them.
 */
export class EventClients {
  private readonly tracker: ClientTracker;

  constructor(
    streams: boolean,
    private readonly t0: number,
    servedAfterMs?: number,
  ) {
    this.tracker = new ClientTracker(streams, servedAfterMs);
  }

  add(e: object): void {
    if ((e as { client?: number }).client === undefined) return;
    const r = { ...e } as Record<string, unknown>;
    for (const k of EVENT_TIMES) if (typeof r[k] === 'number') r[k] = (r[k] as number) + this.t0;
    this.tracker.add(r as unknown as AttemptRecord);
  }

  report(timeline: PhaseTimeline): ClientsReport | undefined {
    return clientsReport(this.tracker.clients(), timeline, this.t0, this.tracker.reconnects);
  }
}
