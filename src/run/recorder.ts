import { join } from 'node:path';
import type { Histogram } from 'hdr-histogram-js';
import { now } from '../util/clock.js';
import { addAttempt, emptyTotals, type Totals } from '../record/totals.js';
import { EventsFile } from '../record/events-file.js';
import { ERROR_KINDS, type AttemptRecord } from '../record/attempt.js';
import { createHistogram, latencyStats } from '../record/histogram.js';
import { IntervalLog } from '../record/interval-log.js';
import { ClientTracker, SERVED_AFTER_MS } from '../record/clients.js';
import { MessagesFile } from '../record/messages-file.js';
import { addMessage, emptyMessageCounts, MESSAGE_FIELDS, MSG_LATE, MSG_REPLIED, type MessageCounts } from '../record/messages.js';
import { phaseAt, type PhaseTimeline } from '../timeline/attribute.js';
import type { EngineListener, EngineTick, OpenNow } from '../engine/pool.js';
import type { StepSpec } from '../engine/protocol.js';
import type { StepReport } from '../report/summary.js';

export interface Progress {
  elapsedMs: number;
  scheduled: number;
  attempted: number;
  /** Attempts finished in the last second. */
  perSecond: number;
  openNow: number;
  opened: number;
  failures: Record<string, number>;
  /** session.stream: messages settled (replied, late or lost) in the last second, and lost so far; absent without a stream. */
  messages?: { perSecond: number; lost: number };
  /** Reconnecting clients: their attempts after the first (counted in `attempted`), and the sockets of theirs that were cut. */
  clients?: { retries: number; drops: number };
  /** load.population: its clients with a socket open now, of how many. */
  population?: { connected: number; clients: number };
  /** The startup phase in effect now; absent until the timeline has one. */
  phase?: string;
}

interface StepFailures {
  timeouts: number;
  closed: Record<string, number>;
}

/** Where the phases of the startup lie, as far as they are known. */
export interface PhaseSource {
  timeline(): PhaseTimeline;
}

/**
 * What a run records as the engine reports: exact totals, clients, step failures, events.ndjson
 * and the interval log (from T0 on), and the counters the progress line shows.
 */
export class Recorder implements EngineListener {
  readonly totals: Totals = emptyTotals();
  readonly clients: ClientTracker;
  /** Attempts that were a client's first try, reported or lost: fewer than scheduled means a partial run. */
  firstTries = 0;
  private readonly stepFailures = new Map<string, StepFailures>();
  private finishedLastSecond = 0;
  /** messageCounts.sent at the previous progress() call. */
  private messagesBefore = 0;
  private readonly events: EventsFile;
  /** session.stream's messages: counted as they come, and written to messages.ndjson. */
  readonly messageCounts: MessageCounts | null;
  private readonly messagesFile: MessagesFile | null;
  private intervalLog: IntervalLog | null = null;
  private phases: PhaseSource | null = null;
  private readonly flushOnExit = () => this.intervalLog?.close(now());
  /** Called once a worker's interval (its records and histograms) is merged in: live checks read the merged state here. */
  afterInterval: (() => void) | null = null;

  constructor(
    private readonly outDir: string,
    private readonly workers: number,
    /** Epoch ms of T0; provisional until begin(). */
    public t0: number,
    /** The scenario has a stream (or checks the server's sequence): messages.ndjson is written. */
    streams = false,
    /** The scenario's stream sends messages: a client is back after a drop once one is answered. */
    backAtReply = false,
    /** session.servedAfter (record/clients.ts worked()). */
    servedAfterMs = SERVED_AFTER_MS,
  ) {
    this.events = new EventsFile(join(outDir, 'events.ndjson'), () => this.t0);
    this.messageCounts = streams ? emptyMessageCounts() : null;
    this.clients = new ClientTracker(backAtReply, servedAfterMs);
    this.messagesFile = streams ? new MessagesFile(join(outDir, 'messages.ndjson'), () => this.t0) : null;
  }

  /** T0 is chosen: the interval log opens, and records are tagged with the phase they were scheduled in. */
  begin(t0: number, phases: PhaseSource): void {
    this.t0 = t0;
    this.phases = phases;
    this.intervalLog = new IntervalLog(join(this.outDir, 'latency.hlog'), t0, this.workers);
    // An abrupt exit (a second Ctrl-C) still appends what the interval log holds (writes are sync).
    process.once('exit', this.flushOnExit);
  }

  records(records: AttemptRecord[]): void {
    const timeline = this.phases?.timeline();
    for (const r of records) {
      addAttempt(this.totals, r);
      this.clients.add(r);
      if ((r.try ?? 0) === 0) this.firstTries++;
      if (r.step !== undefined) this.countStepFailure(r);
      if (timeline) this.intervalLog?.addRecord(r, phaseAt(timeline, r.sched - this.t0));
    }
    this.finishedLastSecond += records.length;
    this.events.write(records);
  }

  /** A worker's message entries: counted, written, and their round trips in the interval log by the phase they were sent in. */
  messages(worker: number, data: Float64Array): void {
    if (this.messageCounts === null) return;
    const timeline = this.phases?.timeline();
    for (let o = 0; o < data.length; o += MESSAGE_FIELDS) {
      const kind = data[o + 4];
      addMessage(this.messageCounts, kind, data[o + 5], data[o + 6]);
      if (timeline && (kind === MSG_REPLIED || kind === MSG_LATE)) this.intervalLog?.addMessageRtt(worker, data[o + 3], phaseAt(timeline, data[o + 2] - this.t0));
    }
    this.messagesFile!.write(data);
  }

  interval(tick: EngineTick): void {
    this.intervalLog?.addInterval(tick.worker, tick.from, tick.at, tick.histograms);
    this.afterInterval?.();
  }

  /** The progress line's numbers; "per second" counts from the previous call. */
  progress(scheduled: number, open: OpenNow, populationClients = 0): Progress {
    const elapsedMs = now() - this.t0;
    const timeline = this.phases?.timeline();
    const phase = timeline && timeline.spans.length > 0 ? phaseAt(timeline, elapsedMs) : null;
    const p: Progress = {
      elapsedMs,
      scheduled,
      attempted: this.totals.attempted,
      perSecond: this.finishedLastSecond,
      openNow: open.sockets,
      ...(populationClients > 0 ? { population: { connected: open.clients, clients: populationClients } } : {}),
      ...(phase !== null ? { phase } : {}),
      opened: this.totals.opened,
      failures: failureKinds(this.totals),
      ...(this.messageCounts ? { messages: { perSecond: this.messageCounts.sent - this.messagesBefore, lost: this.messageCounts.lost } } : {}),
      ...(this.totals.attempted > this.firstTries || this.clients.drops > 0 ? { clients: { retries: this.totals.attempted - this.firstTries, drops: this.clients.drops } } : {}),
    };
    this.finishedLastSecond = 0;
    this.messagesBefore = this.messageCounts?.sent ?? 0;
    return p;
  }

  /** Closes events.ndjson and the interval log; no record may arrive after this. */
  async close(): Promise<void> {
    await this.events.close();
    this.messagesFile?.close();
    this.intervalLog?.close(now());
    process.off('exit', this.flushOnExit);
  }

  /** A dead worker's unreported attempts: counted (as lost) and appended to events.ndjson like any other. */
  async addLost(lost: AttemptRecord[]): Promise<void> {
    if (lost.length === 0) return;
    for (const r of lost) {
      addAttempt(this.totals, r);
      if ((r.try ?? 0) === 0) this.firstTries++;
    }
    const file = new EventsFile(join(this.outDir, 'events.ndjson'), () => this.t0, 'a');
    file.write(lost);
    await file.close();
  }

  /** summary.steps: every expect and ping step in script order, passed from its histogram, failures from the records. */
  stepReports(steps: StepSpec[] | null, histograms: Map<string, { fromStart: Histogram; fromOpen: Histogram }>): Record<string, StepReport> | undefined {
    if (!steps) return undefined;
    const out: Record<string, StepReport> = {};
    for (const step of steps) {
      if (step.kind !== 'expect' && step.kind !== 'ping') continue;
      const h = histograms.get(step.name);
      const f = this.stepFailures.get(step.name);
      out[step.name] = {
        kind: step.kind,
        passed: h?.fromOpen.totalCount ?? 0,
        timeouts: f?.timeouts ?? 0,
        closed: f?.closed ?? {},
        fromStartMs: latencyStats(h?.fromStart ?? createHistogram()),
        fromOpenMs: latencyStats(h?.fromOpen ?? createHistogram()),
      };
    }
    return out;
  }

  private countStepFailure(r: AttemptRecord): void {
    let f = this.stepFailures.get(r.step!);
    if (!f) this.stepFailures.set(r.step!, (f = { timeouts: 0, closed: {} }));
    if (r.stepFail === 'timeout') f.timeouts++;
    else {
      const code = String(r.code ?? 1006);
      f.closed[code] = (f.closed[code] ?? 0) + 1;
    }
  }
}

/** The progress line's failures: close codes other than 1000, HTTP statuses, error kinds, dropped. */
function failureKinds(totals: Totals): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [code, n] of Object.entries(totals.closeCodes)) if (code !== '1000') out[code] = n;
  for (const [status, n] of Object.entries(totals.httpStatus)) out[`http_${status}`] = n;
  for (const kind of ERROR_KINDS) if (totals.errors[kind] > 0) out[kind] = totals.errors[kind];
  if (totals.dropped > 0) out.dropped = totals.dropped;
  return out;
}
