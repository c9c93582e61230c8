import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AttemptRecord } from '../record/attempt.js';
import { disconnected, outcomeKey, SERVED_AFTER_MS } from '../record/clients.js';
import { MSG_DUPLICATE, MSG_GAP, MSG_LATE, MSG_LOST, MSG_REPLIED, MSG_UNMATCHED } from '../record/messages.js';

/** Who the series belong to: every series carries these labels. */
export interface MetricsIdentity {
  scenario: string;
  /** The run folder's id (its last path segment). */
  run: string;
  /** "K/N" for a shard, "0/1" for an unsharded run. */
  shard: string;
}

/** Seconds: from 1 ms (a loopback handshake) to 10 s (a handshake timeout's range). */
export const HANDSHAKE_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: the generator's lateness, from 100 µs to 1 s. */
export const LAG_BUCKETS = [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

const MESSAGE_RESULT: Record<number, string> = { [MSG_REPLIED]: 'replied', [MSG_LATE]: 'late', [MSG_LOST]: 'lost', [MSG_DUPLICATE]: 'duplicate', [MSG_UNMATCHED]: 'unmatched', [MSG_GAP]: 'gap' };

/**
 * wsrace's live metrics in their own registry (never prom-client's global one, so a library
 * caller's metrics and two runs in one process stay apart). Fed from the main thread as records
 * arrive; the workers never see it.
 */
export class WsraceMetrics {
  readonly registry = new Registry();
  private readonly attempts: Counter<'outcome' | 'code' | 'status' | 'error' | 'phase'>;
  private readonly handshake: Histogram<'phase' | 'result'>;
  private readonly lag: Histogram;
  private readonly openSockets: Gauge;
  private readonly clientsConnected: Gauge;
  private readonly disconnects: Counter<'code' | 'phase'>;
  private readonly gaveUp: Counter<'outcome'>;
  private readonly messages: Counter<'result' | 'phase'>;
  private readonly rtt: Histogram<'phase'>;
  private readonly phase: Gauge<'phase'>;
  private readonly ready: Gauge;
  private readonly thresholdOk: Gauge<'expr'>;
  private currentPhase: string | null = null;

  constructor(
    identity: MetricsIdentity,
    /** session.servedAfter: which server closes are disconnects (record/clients.ts). */
    private readonly servedAfterMs = SERVED_AFTER_MS,
  ) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ scenario: identity.scenario, run: identity.run, shard: identity.shard });
    this.attempts = new Counter({ name: 'wsrace_attempts_total', help: 'Connection attempts by outcome (close code, HTTP status or error kind) and the startup phase they were scheduled in.', labelNames: ['outcome', 'code', 'status', 'error', 'phase'], registers });
    this.handshake = new Histogram({ name: 'wsrace_handshake_seconds', help: 'Scheduled start to open (result="open") or to failure (result="fail").', labelNames: ['phase', 'result'], buckets: HANDSHAKE_BUCKETS, registers });
    this.lag = new Histogram({ name: 'wsrace_schedule_lag_seconds', help: "Actual minus scheduled start: the generator's own lateness.", buckets: LAG_BUCKETS, registers });
    this.openSockets = new Gauge({ name: 'wsrace_open_sockets', help: 'Sockets open now, over all workers.', registers });
    this.clientsConnected = new Gauge({ name: 'wsrace_clients_connected', help: "Clients connected now: a population's clients with a socket open, and reconnecting clients whose last finished attempt left them connected.", registers });
    this.disconnects = new Counter({ name: 'wsrace_disconnects_total', help: 'Open sockets the server or the network closed (a reconnecting client\'s once it had served it), by close code and the phase they closed in.', labelNames: ['code', 'phase'], registers });
    this.gaveUp = new Counter({ name: 'wsrace_clients_gave_up_total', help: "Reconnecting clients that stopped trying while the run went on (reconnect's max used, an outcome reconnect.on does not list, or wsrace's socket cap), by their last attempt's outcome key.", labelNames: ['outcome'], registers });
    this.messages = new Counter({ name: 'wsrace_messages_total', help: "session.stream's messages by result and the phase they were sent in.", labelNames: ['result', 'phase'], registers });
    this.rtt = new Histogram({ name: 'wsrace_message_rtt_seconds', help: "session.stream: a message sent to its reply (late ones too).", labelNames: ['phase'], buckets: HANDSHAKE_BUCKETS, registers });
    this.phase = new Gauge({ name: 'wsrace_phase', help: 'The startup phase in effect (1), phases seen before it (0).', labelNames: ['phase'], registers });
    this.ready = new Gauge({ name: 'wsrace_ready', help: 'The target was seen ready (1) or not yet (0).', registers });
    this.thresholdOk = new Gauge({ name: 'wsrace_threshold_ok', help: 'A threshold the run can judge while it goes (totals, top-level latencies): 1 holding, 0 failing; absent until it has a value.', labelNames: ['expr'], registers });
    this.ready.set(0);
  }

  /** The live thresholds' verdicts so far; one with no value yet (a latency nothing measured) is left out. */
  thresholds(results: readonly { expr: string; ok: boolean; actual: number | null }[]): void {
    for (const r of results) if (r.actual !== null) this.thresholdOk.set({ expr: r.expr }, r.ok ? 1 : 0);
  }

  /** One finished attempt, with the phase it was scheduled in and the phase it ended in. */
  attempt(r: AttemptRecord, phase: string, endPhase: string): void {
    const code = r.outcome === 'close' ? String(r.code ?? 1006) : '';
    const status = r.outcome === 'http' ? String(r.status ?? 0) : '';
    const error = r.outcome === 'error' ? (r.err ?? 'unknown') : '';
    this.attempts.inc({ outcome: r.outcome, code, status, error, phase });
    if (r.open !== null) this.handshake.observe({ phase, result: 'open' }, Math.max(0, r.open - r.sched) / 1000);
    else if (r.outcome !== 'interrupted' && r.outcome !== 'dropped' && r.outcome !== 'lost') this.handshake.observe({ phase, result: 'fail' }, Math.max(0, r.end - r.sched) / 1000);
    if (r.start !== null) this.lag.observe(Math.max(0, r.start - r.sched) / 1000);
    if (disconnected(r, this.servedAfterMs)) this.disconnects.inc({ code, phase: endPhase });
    if (r.gaveUp) this.gaveUp.inc({ outcome: outcomeKey(r) });
  }

  /** One message entry (record/messages.ts): its kind, its round trip in ms (-1 without a reply). */
  message(kind: number, rttMs: number, phase: string): void {
    this.messages.inc({ result: MESSAGE_RESULT[kind] ?? 'other', phase });
    if ((kind === MSG_REPLIED || kind === MSG_LATE) && rttMs >= 0) this.rtt.observe({ phase }, rttMs / 1000);
  }

  /** The gauges sampled once a second. */
  sample(openSockets: number, clientsConnected: number, phase: string, ready: boolean): void {
    this.openSockets.set(openSockets);
    this.clientsConnected.set(clientsConnected);
    this.ready.set(ready ? 1 : 0);
    if (phase === this.currentPhase) return;
    if (this.currentPhase !== null) this.phase.set({ phase: this.currentPhase }, 0);
    this.phase.set({ phase }, 1);
    this.currentPhase = phase;
  }

  /** The text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric name the registry exposes (histograms without their _bucket/_sum/_count series). */
  names(): string[] {
    return this.registry.getMetricsAsArray().map((m) => m.name);
  }
}
