import type { Histogram } from 'hdr-histogram-js';
import { now } from '../util/clock.js';
import { scheduleOffsets, scheduleDurationMs } from '../schedule/arrival.js';
import { stripeIndices } from '../schedule/stripe.js';
import { METRICS, createHistogram, encodeHistogram, type Metric } from '../record/histogram.js';
import type { AttemptRecord } from '../record/attempt.js';
import { Attempt, type AttemptHost } from './connection.js';
import type { ConnectionSettings, MainToWorker, WorkerTask, WorkerToMain } from './protocol.js';

/** Below this many ms to the next start, spin on setImmediate instead of trusting a timer. */
const SPIN_MS = 2;
/** After asking sockets to close at the end, how long before they are cut. */
const CLOSE_GRACE_MS = 1000;

/**
 * A worker thread's whole life is one piscina task: report ready, wait for `go`, start its
 * stripe of attempts on schedule, stream records and interval histograms every tick, and finish
 * with a `done` message once every attempt has an outcome (or the drain time ran out).
 */
export default function runWorker(task: WorkerTask): Promise<{ worker: number }> {
  return new WorkerRun(task).run();
}

class WorkerRun implements AttemptHost {
  readonly settings: ConnectionSettings;
  readonly workerIndex: number;
  readonly expectRe: RegExp | null;
  readonly histograms: Record<Metric, Histogram>;

  private readonly offsets: Float64Array;
  private readonly indices: Uint32Array;
  private scheduleStart = 0;
  private next = 0;
  private readonly active = new Set<Attempt>();
  private openNow = 0;
  private records: AttemptRecord[] = [];
  private intervalStart = 0;
  private stopping = false;
  private completed = false;
  private pumpTimer: NodeJS.Timeout | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  private resolve!: (v: { worker: number }) => void;

  constructor(private readonly task: WorkerTask) {
    this.settings = task.connection;
    this.workerIndex = task.workerIndex;
    this.expectRe = task.connection.expect ? new RegExp(task.connection.expect.match) : null;
    this.histograms = Object.fromEntries(METRICS.map((m) => [m, createHistogram()])) as Record<Metric, Histogram>;
    this.offsets = scheduleOffsets(task.stages);
    this.indices = stripeIndices(this.offsets.length, task.stripe);
  }

  run(): Promise<{ worker: number }> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.task.port.on('message', (msg: MainToWorker) => this.onControl(msg));
      this.post({ type: 'ready', worker: this.workerIndex, scheduled: this.indices.length });
    });
  }

  private onControl(msg: MainToWorker): void {
    if (msg.type === 'go') {
      this.scheduleStart = msg.scheduleStart;
      this.intervalStart = now();
      this.tickTimer = setInterval(() => this.flush('tick'), this.task.tickMs);
      this.pump();
    } else if (msg.type === 'stop') {
      this.stop();
    }
  }

  // Starts every attempt that is due, then sleeps until the next one.
  private readonly pump = (): void => {
    this.pumpTimer = null;
    if (this.stopping) return;
    const t = now();
    const { offsets, indices } = this;
    while (this.next < indices.length) {
      const index = indices[this.next];
      const scheduled = this.scheduleStart + offsets[index];
      if (scheduled > t) break;
      this.next++;
      this.launch(index, scheduled);
    }
    if (this.next < indices.length) {
      const wait = this.scheduleStart + offsets[indices[this.next]] - now();
      if (wait > SPIN_MS) this.pumpTimer = setTimeout(this.pump, Math.floor(wait - 1));
      else setImmediate(this.pump);
    } else {
      this.scheduleDone();
    }
  };

  private launch(index: number, scheduled: number): void {
    if (this.active.size >= this.task.capacity) {
      const t = now();
      this.records.push({ i: index, w: this.workerIndex, sched: scheduled, start: null, tcp: null, up: null, open: null, first: null, end: t, outcome: 'dropped', err: 'maxConnections' });
      return;
    }
    const attempt = new Attempt(this, index, scheduled);
    this.active.add(attempt);
    attempt.start();
  }

  opened(): void {
    this.openNow++;
  }

  finished(attempt: Attempt, record: AttemptRecord, wasOpen: boolean): void {
    this.active.delete(attempt);
    if (wasOpen) this.openNow--;
    this.records.push(record);
    if (this.stoppingOrDone() && this.active.size === 0) this.complete();
  }

  private stoppingOrDone(): boolean {
    return this.stopping || this.next >= this.indices.length;
  }

  private scheduleDone(): void {
    if (this.active.size === 0) return this.complete();
    const end = this.scheduleStart + scheduleDurationMs(this.task.stages);
    const wait = Math.max(0, end - now()) + this.task.drainTimeoutMs;
    this.drainTimer = setTimeout(() => this.cutStragglers(), wait);
  }

  private stop(): void {
    if (this.stopping || this.completed) return;
    this.stopping = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    if (this.active.size === 0) return this.complete();
    this.cutStragglers();
  }

  // Close open sockets with 1001, cut the rest; what still hangs after the grace is terminated.
  private cutStragglers(): void {
    this.stopping = true;
    for (const attempt of [...this.active]) attempt.interrupt();
    if (this.active.size === 0) return this.complete();
    const timer = setTimeout(() => {
      for (const attempt of [...this.active]) attempt.terminate();
      setTimeout(() => {
        for (const attempt of [...this.active]) attempt.forceFinish();
      }, CLOSE_GRACE_MS).unref();
    }, CLOSE_GRACE_MS);
    timer.unref();
  }

  private complete(): void {
    if (this.completed) return;
    this.completed = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.flush('done');
    this.task.port.close();
    this.resolve({ worker: this.workerIndex });
  }

  private flush(type: 'tick' | 'done'): void {
    const at = now();
    const histograms: Partial<Record<Metric, string>> = {};
    for (const metric of METRICS) {
      const h = this.histograms[metric];
      if (h.totalCount > 0) {
        histograms[metric] = encodeHistogram(h);
        h.reset();
      }
    }
    this.post({
      type,
      worker: this.workerIndex,
      from: this.intervalStart,
      at,
      records: this.records,
      histograms,
      openNow: this.openNow,
      inFlight: this.active.size,
      pending: this.stopping ? 0 : this.indices.length - this.next,
    });
    this.records = [];
    this.intervalStart = at;
  }

  private post(msg: WorkerToMain): void {
    this.task.port.postMessage(msg);
  }
}
