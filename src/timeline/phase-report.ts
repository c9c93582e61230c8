import { eachNdjsonLine } from '../util/ndjson.js';
import type { MessageAttribution, MessageBlock } from './message-report.js';
import type { Histogram } from 'hdr-histogram-js';
import { createHistogram, latencyStats, recordMs, type LatencyStats } from '../record/histogram.js';
import { addAttempt, emptyTotals, mergeTotals, type Totals } from '../record/totals.js';
import { POPULATION_BASE, type AttemptRecord } from '../record/attempt.js';
import { phaseAt, phaseOrder, READY, type PhaseTimeline } from './attribute.js';
import { BurstFinder, type DisconnectBurst } from './disconnect-burst.js';
import { disconnected, SERVED_AFTER_MS, worked } from '../record/clients.js';
import { OutageKind, OutageLog, type Outage } from './outage.js';
import { countInto } from '../util/counts.js';

/** Totals plus handshake latency for a slice of the run (a phase, before/after ready); its stream's messages, with one. */
export type Block = Totals & { handshakeMs: LatencyStats; messages?: MessageBlock };

/** An events.ndjson line read back: times in ms since T0. */
export type EventLine = Omit<AttemptRecord, 'sched' | 'start' | 'open' | 'end'> & { sched: number; start: number | null; open: number | null; end: number; phase?: string };

export type { Outage } from './outage.js';

/** Failures of one kind after readiness, with the time range they hit (ms after ready). */
export interface AfterReadyFailure {
  key: string;
  count: number;
  fromMs: number;
  toMs: number;
  reasons: string[];
}

interface Acc {
  totals: Totals;
  handshake: Histogram;
}

const acc = (): Acc => ({ totals: emptyTotals(), handshake: createHistogram() });

/**
 * Attributes attempts to phases at their scheduled start and sums each slice. Pure over its
 * inputs; used live at the end of a run and by `wsrace correlate` on a finished run.
 */
export class PhaseAttributor {
  private readonly byPhase = new Map<string, Acc>();
  private readonly before = acc();
  private readonly after = acc();
  private readonly afterFailures = new Map<string, AfterReadyFailure>();
  private readonly disconnects: Disconnects = { total: 0, closeCodes: {}, phases: {} };
  private readonly retries = new Map<string, Totals>();
  private readonly burst = new BurstFinder();
  private readonly outage = new OutageLog();
  constructor(
    private readonly timeline: PhaseTimeline,
    /** session.servedAfter (record/clients.ts worked()). */
    private readonly servedAfterMs = SERVED_AFTER_MS,
  ) {
    for (const phase of phaseOrder(timeline)) this.byPhase.set(phase, acc());
  }

  add(e: EventLine): string {
    const phase = phaseAt(this.timeline, e.sched);
    let slot = this.byPhase.get(phase);
    if (!slot) this.byPhase.set(phase, (slot = acc()));
    const ready = this.timeline.readyAtMs;
    const side = ready !== null && e.sched >= ready ? this.after : this.before;
    for (const a of [slot, side]) {
      addAttempt(a.totals, e as unknown as AttemptRecord);
      if (e.open !== null) recordMs(a.handshake, e.open - e.sched);
    }
    if (disconnected(e, this.servedAfterMs)) this.disconnected(e);
    if ((e.try ?? 0) > 0) {
      let r = this.retries.get(phase);
      if (!r) this.retries.set(phase, (r = emptyTotals()));
      addAttempt(r, e as unknown as AttemptRecord);
    }
    // A population socket that served its client worked, even if the server cut it later.
    const success = (e.outcome === 'close' && e.serverClosed === false) || (isPopulationClient(e.client) && worked(e, this.servedAfterMs));
    if (e.outcome !== 'interrupted') {
      this.outage.add(e.sched, success ? OutageKind.Success : e.outcome === 'http' && e.status === 503 ? OutageKind.Http503 : OutageKind.Failure);
    }
    // After ready and still in it: a failure during a later startup (a restart, a deploy's new revision) is that startup's, not the race.
    if (side === this.after && phase === READY && !success && e.outcome !== 'interrupted' && e.outcome !== 'dropped') {
      const key = failureKey(e);
      const rel = e.sched - ready!;
      const f = this.afterFailures.get(key);
      if (!f) this.afterFailures.set(key, { key, count: 1, fromMs: rel, toMs: rel, reasons: e.reason ? [e.reason] : [] });
      else {
        f.count++;
        f.fromMs = Math.min(f.fromMs, rel);
        f.toMs = Math.max(f.toMs, rel);
        if (e.reason && f.reasons.length < 3 && !f.reasons.includes(e.reason)) f.reasons.push(e.reason);
      }
    }
    return phase;
  }

  /** A disconnect (record/clients.ts disconnected()), counted by the phase it closed in. */
  private disconnected(e: EventLine): void {
    const code = String(e.code ?? 1006);
    const phase = phaseAt(this.timeline, e.end);
    const slot = (this.disconnects.phases[phase] ??= { total: 0, closeCodes: {} });
    for (const d of [this.disconnects, slot]) {
      d.total++;
      countInto(d.closeCodes, code);
    }
    // The cut users felt: the reconnecting clients' drops (an arrival has no client to come back).
    if (e.client !== undefined) this.burst.add(e.end, code);
  }

  /** Phases in timeline order; phases no attempt fell into are left out. */
  result(): Attribution {
    const phases: Record<string, Block> = {};
    // Timeline order (a restart repeats names: a phase sits where it first began), then any other.
    for (const phase of new Set([...phaseOrder(this.timeline), ...this.byPhase.keys()])) {
      const a = this.byPhase.get(phase);
      if (a && a.totals.attempted > 0) phases[phase] = block(a);
    }
    const afterReadyFailures = [...this.afterFailures.values()].sort((a, b) => b.count - a.count);
    const retries: Record<string, Totals> = {};
    for (const phase of phaseOrder(this.timeline)) {
      const r = this.retries.get(phase);
      if (r) retries[phase] = mergeTotals(emptyTotals(), r);
    }
    return { disconnects: this.disconnects, burst: this.burst.result(), retries, phases, beforeReady: block(this.before), afterReady: block(this.after), outage: this.outage.result(), afterReadyFailures };
  }
}

const isPopulationClient = (client: number | undefined) => client !== undefined && client >= POPULATION_BASE;

/** Closes wsrace did not ask for of open sockets (a reconnecting client's once it served: record/clients.ts disconnected()), by close code, by the phase in effect when they closed. */
export interface Disconnects {
  total: number;
  closeCodes: Record<string, number>;
  phases: Record<string, { total: number; closeCodes: Record<string, number> }>;
}

export interface Attribution {
  /** Server-side (or network) closes of open sockets (a reconnecting client's once it served), by the phase they closed in. */
  disconnects: Disconnects;
  /** The largest burst of those disconnects (the cut), for the findings; null without any. */
  burst?: DisconnectBurst | null;
  /** Reconnecting clients' retries (every attempt after a client's first), by the phase each was scheduled in: what the herd met. */
  retries: Record<string, Totals>;
  phases: Record<string, Block>;
  beforeReady: Block;
  afterReady: Block;
  outage: Outage;
  afterReadyFailures: AfterReadyFailure[];
  /** session.stream's messages by phase (message-report.ts); absent without a stream. */
  messages?: MessageAttribution | null;
}

/** A failure's label in findings: "close 1011", "http 503", "refused", "error EMFILE". */
export function failureKey(e: Pick<EventLine, 'outcome' | 'code' | 'status' | 'err'>): string {
  if (e.outcome === 'close') return `close ${e.code}`;
  if (e.outcome === 'http') return `http ${e.status}`;
  if (e.outcome === 'error') return `error ${e.err ?? 'unknown'}`;
  return e.outcome;
}

/** A block for a phase no attempt fell into. */
export function emptyBlock(): Block {
  return block(acc());
}

function block(a: Acc): Block {
  return { ...mergeTotals(emptyTotals(), a.totals), handshakeMs: latencyStats(a.handshake) };
}

/**
 * Attributes every attempt of events.ndjson (it can be large, so it is streamed); with
 * `rewrite`, each line gets its `phase`; `visit` sees each line too, in the same pass.
 */
export async function attributeEventsFile(path: string, timeline: PhaseTimeline, options: { rewrite?: boolean; visit?: (e: EventLine) => void; servedAfterMs?: number } = {}): Promise<Attribution> {
  const attributor = new PhaseAttributor(timeline, options.servedAfterMs);
  await eachNdjsonLine<EventLine>(
    path,
    (e) => {
      e.phase = attributor.add(e);
      options.visit?.(e);
    },
    options,
  );
  return attributor.result();
}
