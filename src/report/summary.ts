import type { Histogram } from 'hdr-histogram-js';
import { METRICS, latencyStats, type LatencyStats, type Metric } from '../record/histogram.js';
import type { Totals } from '../record/totals.js';
import { emptyBlock, type Attribution, type Block, type Disconnects, type Outage } from '../timeline/phase-report.js';
import { mergeMessageCounts, emptyMessageCounts, type MessageCounts } from '../record/messages.js';
import type { MessageAttribution, MessageBlock } from '../timeline/message-report.js';
import type { TimelineSummary } from './assemble.js';
import type { ClientsReport } from '../timeline/clients-report.js';
import { phaseOrder } from '../timeline/attribute.js';
import { findings } from './findings.js';
import { InputError } from '../scenario/errors.js';
import { evaluateThresholds, type ThresholdResult } from './thresholds.js';
import { parseThreshold, type Threshold } from '../scenario/thresholds.js';

export const SUMMARY_SCHEMA = 'wsrace.summary/v1';

export interface WorkerReport {
  worker: number;
  scheduled: number;
  /** The worker thread's nice once ready (Linux): the `--nice` asked where the kernel allowed it, or wsrace's favour (−10), else the process's; null where unknown; absent in older runs. */
  nice?: number | null;
  error: string | null;
}

export interface Summary extends TimelineSummary {
  schema: typeof SUMMARY_SCHEMA;
  scenario: string;
  scenarioFile: string;
  target: { url: string; headers: Record<string, string>; subprotocols: string[] };
  startedAt: string;
  /** T0 (ISO): the target's launch or trigger, or the first scheduled attempt. */
  t0: string;
  /** T0 in epoch ms with sub-ms precision: events.ndjson and timeline.ndjson times are relative to it. */
  t0EpochMs: number;
  /** The readiness source the run was told to trust (null: none configured). */
  readyFrom: 'health' | 'log' | 'supplied' | null;
  /** Set by `wsrace correlate`: the timeline file the run was re-attributed against. */
  correlatedWith?: string;
  durationMs: number;
  partial: boolean;
  /** Why the run was cut short, when it was. */
  interruptedBy: string | null;
  /** The abortOnFail threshold that stopped the run while it went (null: none did; absent in older runs). */
  abortedBy?: string | null;
  workers: WorkerReport[];
  /** This run's stripe of a sharded schedule (null: the whole schedule). */
  shard: { index: number; count: number; lateByMs: number | null; leader?: boolean } | null;
  /** Set by `wsrace merge`: the shard folders this run was merged from. */
  shards?: { dir: string; index: number | null; count: number | null; attempted: number; partial: boolean; failedWorkers: number[] }[];
  /** This process's limits: open files (ulimit -n) and the socket cap derived from it. */
  limits: { openFiles: number | null; maxSockets: number };
  /**
   * `spinBudget`: the fraction of each worker's time it could busy-wait for exact starts (`--spin`;
   * absent in older runs). `nice`: the nice the workers were asked to run at (`--nice`; absent
   * when not asked; what each got is `workers[].nice`).
   */
  schedule: { scheduled: number; durationMs: number; startAfterMs: number; peakRate: number; onReadyBurst: number; spinBudget?: number; nice?: number };
  /** Plain sentences, most important first. */
  findings: string[];
  totals: Totals;
  handshakeMs: LatencyStats;
  handshakeFailMs: LatencyStats;
  tcpConnectMs: LatencyStats;
  tlsHandshakeMs: LatencyStats;
  upgradeMs: LatencyStats;
  firstMessageMs: LatencyStats;
  scheduleLagMs: LatencyStats;
  serverCloseAfterMs: LatencyStats;
  /** How late each worker's deadline tick (2 ms; 1 ms with a stream) ran: while it waits, socket events wait in wsrace too. */
  loopDelayMs: LatencyStats;
  /** Per startup phase (at each attempt's scheduled start), in timeline order. */
  phases: Record<string, Block>;
  beforeReady: Block;
  afterReady: Block;
  outage: Outage;
  /** Established sockets closed by the server or the network (not by wsrace), by code and by the phase they closed in. */
  disconnects: Disconnects;
  /** session.steps: per step, how many passed, timed out or saw the socket close, and its latency. */
  steps?: Record<string, StepReport>;
  /** session.stream: every message's fate, its round trip and its send lag; per phase in `phases.<name>.messages`. */
  messages?: MessagesSummary;
  /** session.reconnect: per client, attempts and time to connected (what a user saw). */
  clients?: ClientsReport;
  /** Live metrics' ways out (--metrics-listen, --pushgateway, --remote-write): absent when none was asked for. */
  exports?: ExportsReport;
  thresholds: ThresholdResult[];
  verdict: 'pass' | 'fail';
}

/** summary.exports: where the live metrics went, and what each pushing way out delivered or dropped (URLs redacted). */
export interface ExportsReport {
  metricsListen?: string;
  pushgateway?: { url: string; pushes: number; dropped: number };
  remoteWrite?: { url: string; pushes: number; dropped: number };
}

/** summary.messages: counts of the whole run, round trip (send → reply, late ones too) and send lag. */
export type MessagesSummary = MessageCounts & {
  rttMs: LatencyStats;
  sendLagMs: LatencyStats;
  /** Messages sent in the first 2 s after readiness, and after them (null: never ready). */
  firstAfterReady: MessageBlock | null;
  laterAfterReady: MessageBlock | null;
};

/** The latency metrics summary.json shows at its top level; the stream's are under `messages`. */
const TOP_METRICS = METRICS.filter((m) => m !== 'messageRtt' && m !== 'messageSendLag');

export interface StepReport {
  kind: 'expect' | 'ping';
  passed: number;
  timeouts: number;
  /** Sockets closed while the step waited, by close code. */
  closed: Record<string, number>;
  /** From the step's start (for ping: the round trip). */
  fromStartMs: LatencyStats;
  /** From the socket's open. */
  fromOpenMs: LatencyStats;
}

export type SummaryInput = Omit<Summary, 'schema' | 'thresholds' | 'verdict' | 'findings' | keyof TimelineSummary | 'phases' | 'beforeReady' | 'afterReady' | 'outage' | 'disconnects' | `${Metric}Ms`> & {
  histograms: Record<Metric, Histogram>;
  thresholdDefs: readonly Threshold[];
  timeline: TimelineSummary;
  attribution: Attribution;
  hasTimelineSource: boolean;
  /** The scenario has a stream (or checks the server's sequence): summary.messages is written. */
  streams: boolean;
};

/** Assembles summary.json: stats read from merged histograms, findings, thresholds evaluated on the result. */
export function buildSummary(input: SummaryInput): Summary {
  const { histograms, thresholdDefs, timeline, attribution, hasTimelineSource, streams, ...rest } = input;
  const stats = Object.fromEntries(TOP_METRICS.map((m) => [`${m}Ms`, latencyStats(histograms[m])])) as Record<`${Metric}Ms`, LatencyStats>;
  const base = { schema: SUMMARY_SCHEMA, ...rest, findings: [] as string[], ...stats } as Omit<Summary, keyof TimelineSummary | 'phases' | 'beforeReady' | 'afterReady' | 'outage' | 'disconnects' | 'thresholds' | 'verdict'>;
  if (streams) base.messages = { ...emptyMessageCounts(), rttMs: latencyStats(histograms.messageRtt), sendLagMs: latencyStats(histograms.messageSendLag), firstAfterReady: null, laterAfterReady: null };
  return withTimeline(base, timeline, attribution, thresholdDefs, hasTimelineSource);
}

/** Sets (or replaces, for `wsrace correlate`) everything that depends on the timeline, then re-judges. */
export function withTimeline(
  base: Omit<Summary, keyof TimelineSummary | 'phases' | 'beforeReady' | 'afterReady' | 'outage' | 'disconnects' | 'thresholds' | 'verdict'> & Partial<Summary>,
  timeline: TimelineSummary,
  attribution: Attribution,
  thresholdDefs: readonly Threshold[],
  hasTimelineSource: boolean,
): Summary {
  // The timeline's optional keys are the new timeline's alone: a correlated run's old ones go.
  const { triggerExit: _exit, triggerRunning: _running, logCut: _cut, restarts: _restarts, ...kept } = base;
  const withoutVerdict = {
    ...kept,
    ...timeline,
    phases: attribution.phases,
    beforeReady: attribution.beforeReady,
    afterReady: attribution.afterReady,
    outage: attribution.outage,
    disconnects: attribution.disconnects,
  };
  // The herd: what reconnecting clients' retries met, by the phase they were scheduled in.
  if (withoutVerdict.clients) withoutVerdict.clients = { ...withoutVerdict.clients, retriesByPhase: attribution.retries };
  if (attribution.messages && base.messages) withMessages(withoutVerdict, attribution.messages, phaseOrder({ spans: timeline.timeline, readyAtMs: null, failedAtMs: null }));
  withoutVerdict.findings = findings({
    totals: base.totals,
    attribution,
    ready: timeline.ready,
    timeline: timeline.timeline,
    health: timeline.health,
    failed: timeline.failed,
    targetExit: timeline.targetExit,
    triggerExit: timeline.triggerExit,
    triggerRunning: timeline.triggerRunning,
    scheduleLagP99: base.scheduleLagMs.p99,
    niceAsked: base.schedule.nice ?? null,
    loopDelayP99: base.loopDelayMs?.p99 ?? null,
    hasTimelineSource,
    interruptedBy: base.interruptedBy,
    workers: base.workers,
    limits: base.limits,
    disconnects: attribution.disconnects,
    burst: attribution.burst,
    clients: withoutVerdict.clients,
    restarts: timeline.restarts,
    messages: withoutVerdict.messages ?? null,
  });
  // The threshold that stopped the run failed, whatever the numbers it left behind say.
  const thresholds = evaluateThresholds(thresholdDefs, withoutVerdict).map((t) => (t.expr === base.abortedBy ? { ...t, ok: false } : t));
  if (base.abortedBy) withoutVerdict.findings.unshift(`the run was stopped early: threshold "${base.abortedBy}" failed while it ran (abortOnFail); results are partial`);
  // Phases come from the timeline, so a misspelt one cannot be refused at load: it reads 0. Say so.
  const seen = [...new Set([...Object.keys(attribution.phases), ...Object.keys(attribution.disconnects?.phases ?? {})])];
  for (const t of thresholdDefs) {
    const phase = t.path[0] === 'phases' ? t.path[1] : (t.path[0] === 'clients' && t.path[1] === 'byPhase') || (t.path[0] === 'disconnects' && t.path[1] === 'phases') ? t.path[2] : null;
    if (phase !== null && !seen.includes(phase)) withoutVerdict.findings.push(`threshold "${t.expr}" names phase "${phase}", which this run never saw (its phases: ${seen.join(', ') || 'none'})`);
  }
  return { ...withoutVerdict, thresholds, verdict: thresholds.every((t) => t.ok) ? 'pass' : 'fail' } as Summary;
}

/**
 * Puts the stream's counts where the run's blocks are: each phase's (a phase with messages but no
 * attempt gets an empty block), before and after ready, and the whole run's beside its round trip.
 */
function withMessages(s: Pick<Summary, 'phases' | 'beforeReady' | 'afterReady'> & { messages?: MessagesSummary }, m: MessageAttribution, order: readonly string[]): void {
  for (const [phase, block] of Object.entries(m.phases)) (s.phases[phase] ??= emptyBlock()).messages = block;
  // A phase with messages but no attempt was added last: put it back in timeline order.
  const rank = (p: string) => {
    const i = order.indexOf(p);
    return i < 0 ? order.length : i;
  };
  s.phases = Object.fromEntries(Object.entries(s.phases).sort(([a], [b]) => rank(a) - rank(b)));
  s.beforeReady.messages = m.beforeReady;
  s.afterReady.messages = m.afterReady;
  const whole = mergeMessageCounts(mergeMessageCounts(emptyMessageCounts(), m.beforeReady), m.afterReady);
  s.messages = { ...s.messages!, ...whole, firstAfterReady: m.firstAfterReady, laterAfterReady: m.laterAfterReady };
}

/**
 * Threshold definitions back from a summary (for re-judging a finished run). One an older wsrace
 * accepted and this one does not (a misspelt error kind) is an input error naming `source`.
 */
export function thresholdsOf(summary: Pick<Summary, 'thresholds'>, source = 'summary.json'): Threshold[] {
  return summary.thresholds.map((t, i): Threshold => {
    try {
      return { ...parseThreshold(t.expr), ...(t.abortOnFail ? { abortOnFail: true } : {}) };
    } catch (err) {
      throw new InputError(`${source}: thresholds[${i}]: ${(err as Error).message}`);
    }
  });
}
