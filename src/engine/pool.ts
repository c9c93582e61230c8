import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Histogram } from 'hdr-histogram-js';
import { METRICS, createHistogram, decodeHistogram, type Metric } from '../record/histogram.js';
import type { AttemptRecord } from '../record/attempt.js';
import { stripeIndices, stripeShare } from '../schedule/stripe.js';
import { peakRate, scheduleOffsets, scheduledCount, type Stage } from '../schedule/arrival.js';
import { DEFAULT_WARMUP_CONNECTIONS } from './warmup.js';
import { DEFAULT_SPIN_BUDGET, checkSpinBudget } from './wake.js';
import type { AddedAttempt, ConnectionSettings, MainToWorker, PopulationSettings, WorkerTask, WorkerTick, WorkerToMain } from './protocol.js';
import { populationShare } from './population.js';
import { checkNice, type NicePlan } from './priority.js';

export interface EngineOptions {
  stages: Stage[];
  workers: number;
  /** This process's share of a sharded schedule (shard K of N); defaults to the whole schedule. */
  shard?: { index: number; count: number };
  /** Sockets (open or opening) this process may hold at once. */
  capacity: number;
  drainTimeoutMs: number;
  tickMs?: number;
  connection: ConnectionSettings;
  /** Attempts will be added at run time (load.onReady): workers wait for seal() before finishing. */
  awaitSeal?: boolean;
  /** load.population: clients that stay connected, reconnecting (protocol.ts). */
  population?: PopulationSettings | null;
  /** Loopback warm-up connections per worker before it is ready (default 400; 0: none). */
  warmup?: number;
  /** Fraction of each worker's time it may busy-wait before starts, 0–1 (default 1; see wake.ts); else RangeError. */
  spinBudget?: number;
  /** The nice the workers ask for (priority.ts nicePlan; default null: they keep the process's). */
  nice?: NicePlan | null;
}

export interface EngineTick {
  worker: number;
  from: number;
  at: number;
  histograms: Partial<Record<Metric, Histogram>>;
}

export interface EngineListener {
  /** Finished attempts, in batches, as the workers report them. */
  records?(records: AttemptRecord[]): void;
  /** session.stream's message entries (record/messages.ts), in batches, before the tick that ends their interval. */
  messages?(worker: number, data: Float64Array): void;
  /** One worker's interval: decoded histograms for [from, at). */
  interval?(tick: EngineTick): void;
}

/** Sockets open now, and of them a population's clients' (its clients connected now). */
export interface OpenNow {
  sockets: number;
  clients: number;
}

export interface WorkerStatus {
  worker: number;
  scheduled: number;
  /** The thread's nice once ready (Linux; null where unknown or before it was ready). */
  nice: number | null;
  openNow: number;
  clientsOpen: number;
  inFlight: number;
  pending: number;
  done: boolean;
  error: string | null;
}

/**
 * A worker's young generation, sized to its peak rate: small below 3,000/s per worker, for short
 * scavenge pauses; large from there, because a worker that fell behind copied its growing backlog
 * of live sockets at every scavenge (docs/performance.md, "Notes moved from engine code").
 */
export function youngGenerationMb(peakRatePerWorker: number): number {
  return peakRatePerWorker >= 3000 ? 32 : 8;
}

/**
 * The compiled worker beside this file, or the TypeScript source under tsx (tests). Compiled
 * workers inherit the parent's per-thread options by default; passing process.execArgv
 * explicitly would make `node --trace-gc` or `--max-semi-space-size` refuse to start them.
 */
function workerFile(): { filename: string; execArgv?: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return { filename: here.replace(/pool\.ts$/, 'worker.ts'), execArgv: ['--import', 'tsx'] };
  return { filename: here.replace(/pool\.js$/, 'worker.js') };
}

/**
 * Runs the schedule on N worker threads. Worker w owns the global stripe
 * shard.index + w·shard.count of shard.count·N, so workers and shards compose: all stripes of
 * all shards are exactly the whole schedule.
 */
export class Engine {
  readonly histograms: Record<Metric, Histogram> = Object.fromEntries(METRICS.map((m) => [m, createHistogram()])) as Record<Metric, Histogram>;
  readonly workers: WorkerStatus[];
  /** session.steps: merged histograms per step name. */
  readonly stepHistograms = new Map<string, { fromStart: Histogram; fromOpen: Histogram }>();
  private readonly pool: Piscina;
  private readonly ports: MessagePortLike[] = [];
  private readonly doneSignals: Promise<void>[] = [];
  private readyResolve!: () => void;
  private readyCount = 0;
  /** Which global attempt indices have reported an outcome (to count what a dead worker lost). */
  private readonly reported: Uint8Array;
  private readonly added: AddedAttempt[][];
  private readonly scheduleTotal: number;
  private scheduleStart = 0;
  readonly ready: Promise<void>;
  readonly finished: Promise<void>;

  constructor(
    private readonly options: EngineOptions,
    private readonly listener: EngineListener = {},
  ) {
    const n = options.workers;
    // Checked before a thread starts: a bad value from a library caller is a RangeError, not a hang.
    if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`workers ${n}: expected a whole number ≥ 1`);
    const spinBudget = checkSpinBudget(options.spinBudget ?? DEFAULT_SPIN_BUDGET);
    const nice = options.nice ? { ...options.nice, nice: checkNice(options.nice.nice) } : null;
    const shard = options.shard ?? { index: 0, count: 1 };
    this.scheduleTotal = scheduledCount(options.stages);
    this.reported = new Uint8Array(this.scheduleTotal);
    this.added = Array.from({ length: n }, () => []);
    const { filename, execArgv } = workerFile();
    this.pool = new Piscina({ filename, minThreads: n, maxThreads: n, concurrentTasksPerWorker: 1, idleTimeout: 1000, atomics: 'disabled', ...(execArgv ? { execArgv } : {}), resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb(peakRate(options.stages) / (n * shard.count)) } });
    this.workers = Array.from({ length: n }, (_, w) => ({ worker: w, scheduled: 0, nice: null, openNow: 0, clientsOpen: 0, inFlight: 0, pending: 0, done: false, error: null }));
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
    const runs: Promise<void>[] = [];
    for (let w = 0; w < n; w++) {
      const { port1, port2 } = new MessageChannel();
      this.ports.push(port1);
      let doneResolve!: () => void;
      this.doneSignals.push(new Promise<void>((resolve) => (doneResolve = resolve)));
      port1.on('message', (msg: WorkerToMain) => this.onMessage(msg, doneResolve));
      const task: WorkerTask = {
        workerIndex: w,
        workerCount: n,
        stripe: { index: shard.index + w * shard.count, count: shard.count * n },
        stages: options.stages,
        capacity: Math.max(1, stripeShare(options.capacity, { index: w, count: n })),
        drainTimeoutMs: options.drainTimeoutMs,
        tickMs: options.tickMs ?? 1000,
        connection: options.connection,
        awaitSeal: options.awaitSeal ?? false,
        population: options.population ?? null,
        warmup: options.warmup ?? DEFAULT_WARMUP_CONNECTIONS,
        spinBudget,
        nice,
        port: port2,
      };
      runs.push(
        this.pool.run(task, { transferList: [port2] }).then(
          () => undefined,
          (err: unknown) => this.workerFailed(w, err, doneResolve),
        ),
      );
    }
    // piscina can resolve run() before the port's last messages arrive: wait for both.
    this.finished = Promise.all([...runs, ...this.doneSignals]).then(() => undefined);
  }

  /** Starts every worker's schedule at the given epoch ms (call after `ready`); `t0` is the run's T0. */
  go(scheduleStart: number, t0 = scheduleStart): void {
    this.scheduleStart = scheduleStart;
    this.send({ type: 'go', scheduleStart, t0 });
  }

  /** Adds attempts at run time; attempt j of the list goes to worker j mod N. */
  add(attempts: AddedAttempt[]): void {
    const n = this.workers.length;
    this.ports.forEach((port, w) => {
      if (this.workers[w].done) return;
      const mine = attempts.filter((_, j) => j % n === w);
      this.added[w].push(...mine);
      this.workers[w].scheduled += mine.length; // so workers[].scheduled includes the burst (a finished worker gets none)
      port.postMessage({ type: 'add', attempts: mine } satisfies MainToWorker);
    });
  }

  /** No more attempts will be added: workers may finish once theirs are done. */
  seal(): void {
    this.send({ type: 'seal' });
  }

  /** Asks workers to stop: no new attempts, open sockets closed with 1001, then cut. */
  stop(): void {
    this.send({ type: 'stop', reason: 'interrupt' });
  }

  async close(): Promise<void> {
    for (const port of this.ports) port.close();
    await this.pool.destroy();
  }

  get openNow(): number {
    return this.workers.reduce((sum, w) => sum + w.openNow, 0);
  }

  /** Sockets open now and, of them, a population's clients', over all workers (as of their last tick). */
  get open(): OpenNow {
    return { sockets: this.openNow, clients: this.workers.reduce((sum, w) => sum + w.clientsOpen, 0) };
  }

  private send(msg: MainToWorker): void {
    this.ports.forEach((port, w) => {
      if (!this.workers[w].done) port.postMessage(msg);
    });
  }

  private onMessage(msg: WorkerToMain, doneResolve: () => void): void {
    const status = this.workers[msg.worker];
    switch (msg.type) {
      case 'ready':
        status.scheduled = msg.scheduled;
        status.nice = msg.nice;
        if (++this.readyCount === this.workers.length) this.readyResolve();
        break;
      case 'records':
        this.onRecords(msg.records);
        break;
      case 'messages':
        this.listener.messages?.(msg.worker, msg.data);
        break;
      case 'tick':
      case 'done':
        this.onTick(msg, status);
        if (msg.type === 'done') {
          status.done = true;
          doneResolve();
        }
        break;
    }
  }

  private onRecords(records: AttemptRecord[]): void {
    for (const r of records) {
      if (r.i < this.scheduleTotal) this.reported[r.i] = 1;
      else this.reportedAdded.add(r.i);
    }
    if (records.length > 0) this.listener.records?.(records);
  }

  private onTick(msg: WorkerTick, status: WorkerStatus): void {
    status.openNow = msg.openNow;
    status.clientsOpen = msg.clientsOpen;
    status.inFlight = msg.inFlight;
    status.pending = msg.pending;
    this.onRecords(msg.records);
    if (msg.messages) this.listener.messages?.(msg.worker, msg.messages);
    const decoded: Partial<Record<Metric, Histogram>> = {};
    for (const metric of METRICS) {
      const encoded = msg.histograms[metric];
      if (!encoded) continue;
      const h = decodeHistogram(encoded);
      this.histograms[metric].add(h);
      decoded[metric] = h;
    }
    for (const [name, enc] of Object.entries(msg.steps ?? {})) {
      let h = this.stepHistograms.get(name);
      if (!h) this.stepHistograms.set(name, (h = { fromStart: createHistogram(), fromOpen: createHistogram() }));
      if (enc.fromStart) h.fromStart.add(decodeHistogram(enc.fromStart));
      if (enc.fromOpen) h.fromOpen.add(decodeHistogram(enc.fromOpen));
    }
    this.listener.interval?.({ worker: msg.worker, from: msg.from, at: msg.at, histograms: decoded });
  }

  /**
   * Attempts a dead worker owned but never reported: counted as `lost` with their scheduled
   * times, so every scheduled attempt is still in exactly one bucket.
   */
  lostRecords(): AttemptRecord[] {
    const out: AttemptRecord[] = [];
    const offsets = scheduleOffsets(this.options.stages);
    const shard = this.options.shard ?? { index: 0, count: 1 };
    const n = this.workers.length;
    for (const status of this.workers) {
      if (status.error === null) continue;
      const w = status.worker;
      const lost = (i: number, sched: number): AttemptRecord => ({ i, w, sched, start: null, tcp: null, up: null, open: null, first: null, end: sched, outcome: 'lost', err: status.error ?? 'worker failed' });
      for (const i of stripeIndices(this.scheduleTotal, { index: shard.index + w * shard.count, count: shard.count * n })) {
        if (!this.reported[i]) out.push(lost(i, this.scheduleStart + offsets[i]));
      }
      for (const a of this.added[w]) if (!this.reportedAdded.has(a.i)) out.push(lost(a.i, a.sched));
      for (const a of populationShare(this.options.population ?? null, { index: shard.index + w * shard.count, count: shard.count * n }, this.scheduleStart)) {
        if (!this.reportedAdded.has(a.i)) out.push({ ...lost(a.i, a.sched), client: a.client, try: 0 });
      }
    }
    return out;
  }

  private readonly reportedAdded = new Set<number>();

  private workerFailed(w: number, err: unknown, doneResolve: () => void): void {
    const status = this.workers[w];
    status.error = err instanceof Error ? err.message : String(err);
    status.done = true;
    if (this.readyCount < this.workers.length && status.scheduled === 0) {
      // A worker that died before reporting ready must not hold the others back.
      if (++this.readyCount === this.workers.length) this.readyResolve();
    }
    doneResolve();
  }
}

type MessagePortLike = { postMessage(msg: unknown): void; close(): void };
