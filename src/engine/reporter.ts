import type { Histogram } from 'hdr-histogram-js';
import type { MessagePort } from 'node:worker_threads';
import { now } from '../util/clock.js';
import { METRICS, createHistogram, encodeHistogram, recordMs, type Metric } from '../record/histogram.js';
import type { AttemptRecord } from '../record/attempt.js';
import type { WorkerToMain } from './protocol.js';
import { MessageBatch } from './message-batch.js';

/**
 * Finished records are posted in batches of this many between ticks: one structured clone of a
 * second's worth was a stall the schedule would feel, and records held for a whole second outlive
 * the young generation and get promoted.
 */
const RECORD_BATCH = 128;

/** What the worker's interval message says of it besides records and histograms. */
export interface WorkerGauges {
  openNow: number;
  /** Of them, a population's clients' sockets. */
  clientsOpen: number;
  inFlight: number;
  /** Scheduled attempts not yet started. */
  pending: number;
}

/**
 * A worker's side of the port to the main thread: its finished records, in batches, and every
 * tick the interval histograms (and session.steps' per-step ones) of [from, at), then reset.
 */
export class Reporter {
  /** The interval histograms attempts record into (AttemptHost.histograms). */
  readonly histograms: Record<Metric, Histogram>;
  private readonly stepHistograms = new Map<string, { fromStart: Histogram; fromOpen: Histogram }>();
  private records: AttemptRecord[] = [];
  private readonly messages = new MessageBatch();
  private intervalStart = 0;

  constructor(
    private readonly port: MessagePort,
    private readonly workerIndex: number,
  ) {
    this.histograms = Object.fromEntries(METRICS.map((m) => [m, createHistogram()])) as Record<Metric, Histogram>;
  }

  /** The first interval starts now (the worker's `go`). */
  begin(): void {
    this.intervalStart = now();
  }

  /** A finished (or dropped) attempt's record; a full batch goes out at once. */
  add(record: AttemptRecord): void {
    this.records.push(record);
    if (this.records.length >= RECORD_BATCH) {
      this.post({ type: 'records', worker: this.workerIndex, records: this.records });
      this.records = [];
    }
  }

  /** One stream message entry (record/messages.ts); a full batch goes out at once, its buffer transferred. */
  addMessage(i: number, seq: number, at: number, rtt: number, kind: number, code: number, flags: number): void {
    const full = this.messages.push(i, seq, at, rtt, kind, code, flags);
    if (full !== null) this.port.postMessage({ type: 'messages', worker: this.workerIndex, data: full } satisfies WorkerToMain, [full.buffer as ArrayBuffer]);
  }

  /** A passed step (expect, ping): ms from the step's start and from open. */
  recordStep(name: string, fromStartMs: number, fromOpenMs: number): void {
    let h = this.stepHistograms.get(name);
    if (!h) this.stepHistograms.set(name, (h = { fromStart: createHistogram(), fromOpen: createHistogram() }));
    recordMs(h.fromStart, fromStartMs);
    recordMs(h.fromOpen, fromOpenMs);
  }

  /** Ends the interval: posts its records, histograms and gauges as a `tick` (or the last, `done`). */
  flush(type: 'tick' | 'done', gauges: WorkerGauges): void {
    const at = now();
    const messages = this.messages.take();
    this.post({
      type,
      ...(messages !== null ? { messages } : {}),
      steps: this.takeSteps(),
      worker: this.workerIndex,
      from: this.intervalStart,
      at,
      records: this.records,
      histograms: this.takeHistograms(),
      openNow: gauges.openNow,
      clientsOpen: gauges.clientsOpen,
      inFlight: gauges.inFlight,
      pending: gauges.pending,
    });
    this.records = [];
    this.intervalStart = at;
  }

  post(msg: WorkerToMain): void {
    this.port.postMessage(msg);
  }

  /** The interval's histograms that recorded anything, encoded, each reset after. */
  private takeHistograms(): Partial<Record<Metric, string>> {
    const histograms: Partial<Record<Metric, string>> = {};
    for (const metric of METRICS) {
      const h = this.histograms[metric];
      if (h.totalCount > 0) {
        histograms[metric] = encodeHistogram(h);
        h.reset();
      }
    }
    return histograms;
  }

  /** The interval's step histograms that recorded anything, encoded, each reset after; undefined when none did. */
  private takeSteps(): Record<string, { fromStart?: string; fromOpen?: string }> | undefined {
    let steps: Record<string, { fromStart?: string; fromOpen?: string }> | undefined;
    for (const [name, h] of this.stepHistograms) {
      if (h.fromStart.totalCount === 0) continue;
      (steps ??= {})[name] = { fromStart: encodeHistogram(h.fromStart), fromOpen: encodeHistogram(h.fromOpen) };
      h.fromStart.reset();
      h.fromOpen.reset();
    }
    return steps;
  }
}
