import type { Histogram } from 'hdr-histogram-js';
import { now } from '../util/clock.js';
import { scheduleOffsets, scheduleDurationMs } from '../schedule/arrival.js';
import { stripeIndices } from '../schedule/stripe.js';
import { METRICS, createHistogram, encodeHistogram, recordMs, recordMsWithExpectedInterval, type Metric } from '../record/histogram.js';
import type { AttemptRecord } from '../record/attempt.js';
import { Attempt, compileTemplates, type AttemptHost, type CompiledTemplates, type DeadlineKind } from './connection.js';
import { DeadlineQueue } from './deadlines.js';
import { REHEARSAL_CLOSE_GRACE_MS, REHEARSAL_RESERVE_MS, warmUp } from './warmup.js';
import { AWAIT_SPIN_MS, planWake, SPIN_WINDOW_MS, type HandshakeWaiter } from './wake.js';
import { raiseThreadPriority, threadPriority } from './priority.js';
import { quietReceiverEnds } from './quiet-end.js';
import { SourcePorts, sliceOf } from './source-ports.js';
import { MessageChannel } from 'node:worker_threads';
import v8 from 'node:v8';
import type { AddedAttempt, ConnectionSettings, MainToWorker, WorkerTask, WorkerToMain } from './protocol.js';

/**
 * Scavenges on this thread alone. A worker spins for its starts, so V8's helper threads (a
 * parallel scavenge recruits them ~30 times a second at 1,600/s) could only run by preempting it,
 * or the target, on a small machine. V8 reads the flag at every scavenge (Node documents changing
 * flags after start-up as unsupported; Node 20 does not freeze them, and the helper threads' CPU
 * halved with it). It applies to the whole process, for good: flags are not per isolate. At
 * 1,600/s on 2 cores, interleaved pairs: lag p99 after the first second 1.0/0.8/1.7 ms against
 * 1.7/2.4/2.4 (node's flag); overall p99 0.8/1.7/1.1/3.9 ms against 2.7/1.7/1.6/2.3 (set here).
 */
v8.setFlagsFromString('--no-parallel-scavenge');
// ws's receivers skip the end() calls that only build an error (quiet-end.ts).
quietReceiverEnds();

/** WSRACE_FAULT_WORKER_CRASH=<worker>:<attempts> makes that worker die (tests only). */
const [CRASH_WORKER, CRASH_AFTER] = (process.env.WSRACE_FAULT_WORKER_CRASH ?? '-1:-1').split(':').map(Number);
/** WSRACE_FAULT_WORKER_STALL=<worker>:<attempts>:<ms> blocks that worker's thread that long once (tests only). */
const [STALL_WORKER, STALL_AFTER, STALL_MS] = (process.env.WSRACE_FAULT_WORKER_STALL ?? '-1:-1:0').split(':').map(Number);

/** How often the deadline queues are checked: the resolution of timeouts and hold times. */
const DEADLINE_TICK_MS = 2;
/**
 * Finished records are posted in batches of this many between ticks: one structured clone of a
 * second's worth at 1,600/s took 2–4 ms, a stall the schedule would feel, and records held
 * for a whole second outlive the young generation and get promoted.
 */
const RECORD_BATCH = 128;
/**
 * Starts in one turn of the loop, and from one socket event, at most: a worker that fell behind
 * (a GC pause, a stolen vCPU, more rate than it can take) catches up in bursts with its sockets'
 * events between them. Starting everything overdue at once starved those events: at 3,600/s on
 * one worker, handshakes waited behind starts until 17,109 of 21,600 timed out after 5 s.
 */
const STARTS_PER_TURN = 16;
const STARTS_PER_EVENT = 2;
/** After asking sockets to close at the end, how long before they are cut (the rehearsal's: warmup.ts). */
const CLOSE_GRACE_MS = 1000;
/**
 * The rehearsal (see rehearse): its size and pace; warm-up's budget bounds it (WARMUP_BUDGET_MS).
 * Measured at 1,100/s on 2 cores (bench/probe.mjs, 6 runs each, interleaved): the worst lag p99
 * of the half-seconds from 0.5 to 2 s was 1.8–4.4 ms with 2,500 rehearsed attempts, 2.7–12.6 ms
 * with none or 400. It adds about 0.9 s before T0.
 */
const REHEARSAL_ATTEMPTS = 2500;
const REHEARSAL_RATE = 3000;

/**
 * A worker thread's whole life is one piscina task: report ready, wait for `go`, start its
 * stripe of attempts on schedule, stream records and interval histograms every tick, and finish
 * with a `done` message once every attempt has an outcome (or the drain time ran out).
 */
export default function runWorker(task: WorkerTask): Promise<{ worker: number }> {
  return new WorkerRun(task).run();
}

/**
 * Before T0, `count` attempts of this worker's own engine (scheduler, spin, Attempt and its
 * listeners, deadline queues, record batches, the interval flush) against the warm-up server, so
 * V8 compiles wsrace's code before the schedule starts and not in its first seconds: with only
 * the plain loopback loop, `--trace-opt` showed ~170 functions (pump, start, finish, ws's and
 * Node's socket code) optimized after T0, their compile jobs taking a third of a core. Only the
 * plain connect/close path: the session's messages, headers and TLS are the target's business.
 * With source addresses it dials as the run does, binding a port it picks (source-ports.ts), but
 * from 127.0.0.1: the run's addresses are not used before T0. Its records go nowhere.
 */
export async function rehearse(task: WorkerTask, url: string, count: number, deadline: number): Promise<void> {
  if (count <= 0) return;
  const { port1, port2 } = new MessageChannel();
  // A structured clone, like the run's own task (it arrives by postMessage), of copies holding the
  // rehearsal's values: an overridden key keeps its place, so the clone has the run's hidden
  // classes, values included (a deserialized array is not a literal's), and code V8 optimizes here
  // still fits the run. The spread copies themselves had maps of their own (socket-options.ts): the
  // run's first calls deoptimized that code ("wrong map") and compiled it again after T0.
  // With source addresses the run binds ports it picks: so does the rehearsal, from 127.0.0.1.
  const bind = task.connection.localAddresses.length > 0;
  const connection: ConnectionSettings = { ...task.connection, url, headers: {}, subprotocols: [], localAddresses: bind ? ['127.0.0.1'] : [], sourcePorts: bind ? task.connection.sourcePorts : null, tls: null, send: [], expect: null, steps: null, users: null, reconnect: null, holdMs: 0, handshakeTimeoutMs: 1000 };
  const stages = [{ durationMs: (count / REHEARSAL_RATE) * 1000, rate: REHEARSAL_RATE }];
  // The port cannot be cloned: a placeholder keeps its key's place, and the real one goes in after.
  const rehearsal = structuredClone({ ...task, connection, stages, stripe: { index: 0, count: 1 }, capacity: 256, drainTimeoutMs: 200, tickMs: 100, awaitSeal: false, warmup: 0, port: null }) as unknown as WorkerTask;
  rehearsal.port = port2;
  const run = new WorkerRun(rehearsal, true);
  port1.on('message', (msg: WorkerToMain) => {
    if (msg.type === 'ready') port1.postMessage({ type: 'go', scheduleStart: now() + 5 } satisfies MainToWorker);
  });
  // Stopped early enough that cutting its stragglers (the reserve) still ends by the deadline.
  const timer = setTimeout(() => port1.postMessage({ type: 'stop', reason: 'deadline' } satisfies MainToWorker), Math.max(0, deadline - now() - REHEARSAL_RESERVE_MS));
  try {
    await run.run();
  } finally {
    clearTimeout(timer);
    port1.close();
  }
}

/**
 * What the deadline queues fire. Module-level, like every callback on the hot path (see WorkerRun's
 * static ones): one function per call site for every WorkerRun, the rehearsal's and the run's.
 */
const fireHandshake = (a: Attempt): void => a.handshakeDeadline();
const fireHold = (a: Attempt): void => a.holdDeadline();
const fireExpect = (a: Attempt): void => a.expectDeadline();

class WorkerRun implements AttemptHost, HandshakeWaiter {
  /**
   * The timers' and setImmediate's callbacks: one function for every WorkerRun. A closure per
   * instance (`this.pump` as an arrow field) made the rehearsal's closures the only call targets
   * V8 saw before T0, so the code it had optimized around them deoptimized at the run's first
   * calls ("wrong call target") and was compiled again in the run's first second. The intervals
   * get their run as an argument (one array per interval); the wake-up, set up to ~100,000 times
   * a second while spinning, finds it in `pumping` (set by the run that sets the wake-up), as an
   * argument would cost an array per setImmediate. One run pumps at a time in a thread: the
   * rehearsal has ended, its wake-up cancelled, before the run's `go`.
   */
  private static pumping: WorkerRun | null = null;
  private static readonly pumpNow = (): void => WorkerRun.pumping?.pump();
  private static readonly deadlineTick = (run: WorkerRun): void => run.checkDeadlines();
  private static readonly tick = (run: WorkerRun): void => run.flush('tick');

  readonly settings: ConnectionSettings;
  readonly workerIndex: number;
  readonly expectRe: RegExp | null;
  readonly histograms: Record<Metric, Histogram>;
  readonly templates: CompiledTemplates;
  readonly sourcePorts: SourcePorts;
  private readonly stepRegexes: RegExp[];
  private readonly stepHistograms = new Map<string, { fromStart: Histogram; fromOpen: Histogram }>();

  private readonly offsets: Float64Array;
  private readonly indices: Uint32Array;
  private scheduleStart = 0;
  private next = 0;
  private launched = 0;
  /** Attempts added at run time, sorted by scheduled time, and how many have started. */
  private added: AddedAttempt[] = [];
  private nextAdded = 0;
  private sealed: boolean;
  private readonly active = new Set<Attempt>();
  private openNow = 0;
  private records: AttemptRecord[] = [];
  private intervalStart = 0;
  private stopping = false;
  private completed = false;
  private pumpTimer: NodeJS.Timeout | null = null;
  private pumpImmediate: NodeJS.Immediate | null = null;
  /** When the next attempt is due (epoch ms; Infinity when none is waiting). */
  private nextDue = Infinity;
  /** Spin accounting: since when this spin runs (0: not spinning), ms spun in this window. */
  private spinSince = 0;
  private spinUsed = 0;
  private spinWindowStart = 0;
  private tickTimer: NodeJS.Timeout | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private readonly deadlines: Record<DeadlineKind, DeadlineQueue> = {
    handshake: new DeadlineQueue(fireHandshake),
    hold: new DeadlineQueue(fireHold),
    expect: new DeadlineQueue(fireExpect),
  };
  private resolve!: (v: { worker: number }) => void;

  /** `rehearsal`: the warm-up run before T0 (see rehearse), which never injects faults. */
  constructor(
    private readonly task: WorkerTask,
    private readonly rehearsal = false,
  ) {
    this.settings = task.connection;
    this.workerIndex = task.workerIndex;
    this.expectRe = task.connection.expect ? new RegExp(task.connection.expect.match) : null;
    this.histograms = Object.fromEntries(METRICS.map((m) => [m, createHistogram()])) as Record<Metric, Histogram>;
    this.templates = compileTemplates(task.connection);
    // Set only with source addresses (connectionSettings); the rehearsal's, when set, are the run's.
    const ports = task.connection.sourcePorts;
    this.sourcePorts = new SourcePorts(ports ? sliceOf(ports, task.stripe.index, task.stripe.count) : null);
    this.stepRegexes = (task.connection.steps ?? []).map((st) => (st.kind === 'expect' && st.match !== null ? new RegExp(st.match) : /$^/));
    this.offsets = scheduleOffsets(task.stages);
    this.indices = stripeIndices(this.offsets.length, task.stripe);
    this.sealed = !task.awaitSeal;
    this.nextRetryIndex = 0x40000000 + task.workerIndex * 0x1000000;
  }

  async run(): Promise<{ worker: number }> {
    // Warming more connections than this worker will make would cost more than it saves.
    const attempts = this.indices.length + (this.task.awaitSeal ? this.task.capacity : 0);
    const warm = Math.min(this.task.warmup, attempts);
    const rehearsal = this.task.warmup > 0 ? Math.min(REHEARSAL_ATTEMPTS, attempts) : 0;
    const nice = this.task.raisePriority ? raiseThreadPriority() : threadPriority();
    await warmUp(warm, (url, deadline) => rehearse(this.task, url, rehearsal, deadline));
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.task.port.on('message', (msg: MainToWorker) => this.onControl(msg));
      this.post({ type: 'ready', worker: this.workerIndex, scheduled: this.indices.length, nice });
    });
  }

  private onControl(msg: MainToWorker): void {
    if (msg.type === 'go') {
      this.scheduleStart = msg.scheduleStart;
      this.intervalStart = now();
      this.tickTimer = setInterval(WorkerRun.tick, this.task.tickMs, this);
      this.deadlineTimer = setInterval(WorkerRun.deadlineTick, DEADLINE_TICK_MS, this);
      this.pump();
    } else if (msg.type === 'add') {
      if (this.stopping) return;
      this.added = this.added.slice(this.nextAdded).concat(msg.attempts).sort((a, b) => a.sched - b.sched);
      this.nextAdded = 0;
      this.repump();
    } else if (msg.type === 'seal') {
      this.sealed = true;
      if (this.allStarted()) this.scheduleDone();
    } else if (msg.type === 'stop') {
      this.stop();
    }
  }

  /**
   * Starts every attempt that is due (from the schedule and the added ones), then sleeps until
   * the next (sleepUntilNext). Between turns, socket events call keepSchedule(), so a long batch
   * of I/O callbacks cannot hold a start back by more than one callback.
   */
  private pump(maxStarts = STARTS_PER_TURN): void {
    this.pumpTimer = null;
    this.pumpImmediate = null;
    if (this.stopping) return;
    const t = now();
    if (this.spinSince > 0) {
      this.spinUsed += t - this.spinSince;
      this.spinSince = 0;
    }
    // What is due past maxStarts waits one turn (sleepUntilNext then spins), behind the socket events.
    for (let started = 0; started < maxStarts; started++) {
      const scheduled = this.nextScheduled();
      const added = this.nextAdded < this.added.length ? this.added[this.nextAdded] : null;
      if (added && (scheduled === null || added.sched < scheduled) && added.sched <= t) {
        this.nextAdded++;
        this.launch(added.i, added.sched, added.client, added.try);
      } else if (scheduled !== null && scheduled <= t) {
        this.launch(this.indices[this.next++], scheduled);
      } else break;
    }
    this.nextDue = Math.min(this.nextScheduled() ?? Infinity, this.nextAdded < this.added.length ? this.added[this.nextAdded].sched : Infinity);
    if (!Number.isFinite(this.nextDue) && this.sealed) this.scheduleDone();
    if (!this.completed) this.sleepUntilNext();
  }

  /**
   * Sets the one timer (or spin) for the next start, or stays awake for the handshakes in
   * flight (see planWake); nothing when no start is waiting and no handshake needs it.
   */
  private sleepUntilNext(): void {
    const t = now();
    if (t - this.spinWindowStart >= SPIN_WINDOW_MS) {
      this.spinWindowStart = t;
      this.spinUsed = 0;
    }
    const wake = planWake(this.nextDue - t, this.spinUsed, this.task.spinBudget, this);
    this.cancelWake(); // a pump nested in a socket event may have left one set: one at a time
    WorkerRun.pumping = this; // the run that sets the wake-up is the one it wakes
    if (wake.spin) {
      this.spinSince = t;
      this.pumpImmediate = setImmediate(WorkerRun.pumpNow);
    } else if (Number.isFinite(wake.timeoutMs)) {
      this.pumpTimer = setTimeout(WorkerRun.pumpNow, wake.timeoutMs);
    }
  }

  /**
   * Whether a handshake started in the last AWAIT_SPIN_MS is in flight: it still waits in the
   * handshake deadline queue (due = start + timeout). planWake asks only when it decides.
   */
  awaitingHandshakes(): boolean {
    return this.deadlines.handshake.waitingAfter(now() - AWAIT_SPIN_MS + this.settings.handshakeTimeoutMs);
  }

  /** Clears the pending wake-up (timer or spin turn), if any. */
  private cancelWake(): void {
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    if (this.pumpImmediate) clearImmediate(this.pumpImmediate);
    this.pumpTimer = null;
    this.pumpImmediate = null;
  }

  keepSchedule(): void {
    if (this.nextDue <= now() && !this.stopping) {
      this.cancelWake();
      this.pump(STARTS_PER_EVENT);
    }
  }

  private nextScheduled(): number | null {
    return this.next < this.indices.length ? this.scheduleStart + this.offsets[this.indices[this.next]] : null;
  }

  private allStarted(): boolean {
    return this.next >= this.indices.length && this.nextAdded >= this.added.length;
  }

  private launch(index: number, scheduled: number, client?: number, attemptNo?: number): void {
    // With reconnects every attempt belongs to a client; a first attempt is its own client.
    if (this.settings.reconnect && client === undefined) {
      client = index;
      attemptNo = 0;
    }
    if (this.active.size >= this.task.capacity) {
      const t = now();
      const rec: AttemptRecord = { i: index, w: this.workerIndex, sched: scheduled, start: null, tcp: null, up: null, open: null, first: null, end: t, outcome: 'dropped', err: 'maxConnections' };
      if (client !== undefined) Object.assign(rec, { client, try: attemptNo });
      this.records.push(rec);
      return;
    }
    const attempt = new Attempt(this, index, scheduled, client, attemptNo);
    this.active.add(attempt);
    attempt.start();
    if (this.launched + 1 === STALL_AFTER && this.workerIndex === STALL_WORKER && !this.rehearsal) {
      // Fault injection for the test suite: a GC pause or a stolen vCPU, as long as asked.
      const until = now() + STALL_MS;
      while (now() < until);
    }
    if (++this.launched === CRASH_AFTER && this.workerIndex === CRASH_WORKER && !this.rehearsal) {
      // Fault injection for the test suite: this thread dies the way a bug would kill it.
      setImmediate(() => {
        throw new Error(`injected crash in worker ${this.workerIndex} after ${CRASH_AFTER} attempts`);
      });
    }
  }

  opened(): void {
    this.openNow++;
  }

  stepRegex(index: number): RegExp {
    return this.stepRegexes[index];
  }

  recordStep(name: string, fromStartMs: number, fromOpenMs: number): void {
    let h = this.stepHistograms.get(name);
    if (!h) this.stepHistograms.set(name, (h = { fromStart: createHistogram(), fromOpen: createHistogram() }));
    recordMs(h.fromStart, fromStartMs);
    recordMs(h.fromOpen, fromOpenMs);
  }

  watch(kind: DeadlineKind, attempt: Attempt, due: number): number {
    return this.deadlines[kind].push(attempt, due);
  }

  unwatch(kind: DeadlineKind, ticket: number): void {
    this.deadlines[kind].cancel(ticket);
  }

  private lastDeadlineCheck = 0;

  private checkDeadlines(): void {
    const t = now();
    // The tick's own lateness is the event loop's: socket events queued behind the same work
    // could have waited as long, and their latencies would carry it (loopDelay).
    if (this.lastDeadlineCheck > 0) recordMsWithExpectedInterval(this.histograms.loopDelay, t - this.lastDeadlineCheck - DEADLINE_TICK_MS, DEADLINE_TICK_MS);
    this.lastDeadlineCheck = t;
    this.deadlines.handshake.check(t);
    this.deadlines.expect.check(t);
    this.deadlines.hold.check(t);
  }

  finished(attempt: Attempt, record: AttemptRecord, wasOpen: boolean): void {
    this.active.delete(attempt);
    if (wasOpen) this.openNow--;
    this.records.push(record);
    if (this.records.length >= RECORD_BATCH) {
      this.post({ type: 'records', worker: this.workerIndex, records: this.records });
      this.records = [];
    }
    this.maybeReconnect(record);
    if (this.stoppingOrDone() && this.active.size === 0) this.complete();
  }

  /** Retries start from this index upward, per worker, so every attempt keeps a unique index. */
  private nextRetryIndex = 0;

  // A reconnecting client whose attempt failed the way `on` lists tries again after backoff.
  private maybeReconnect(r: AttemptRecord): void {
    const rc = this.settings.reconnect;
    if (!rc || this.stopping || r.client === undefined) return;
    const attemptNo = r.try ?? 0;
    if (attemptNo >= rc.max) return;
    const key = r.outcome === 'close' ? String(r.code) : r.outcome === 'http' ? `http_${r.status}` : r.outcome === 'expect_timeout' && r.step === undefined ? 'expect_timeout' : r.outcome;
    if (!rc.on.includes(key)) return;
    const base = Math.min(rc.maxMs, rc.initialMs * rc.factor ** attemptNo);
    const delay = base * (1 + rc.jitter * (2 * Math.random() - 1));
    const retry: AddedAttempt = { i: this.nextRetryIndex++, sched: now() + delay, client: r.client, try: attemptNo + 1 };
    // Keep the pending part of the queue sorted: insert after every earlier-scheduled attempt.
    let k = this.added.length;
    while (k > this.nextAdded && this.added[k - 1].sched > retry.sched) k--;
    this.added.splice(k, 0, retry);
    // Called from a socket event (or a start that failed at once): the per-event cap applies.
    this.repump(STARTS_PER_EVENT);
  }

  private repump(maxStarts = STARTS_PER_TURN): void {
    this.cancelWake();
    if (this.drainTimer) {
      clearTimeout(this.drainTimer);
      this.drainTimer = null;
    }
    this.pump(maxStarts);
  }

  private stoppingOrDone(): boolean {
    return this.stopping || (this.sealed && this.allStarted());
  }

  private scheduleDone(): void {
    if (this.active.size === 0) return this.complete();
    if (this.drainTimer) return;
    const lastAdded = this.added.length > 0 ? this.added[this.added.length - 1].sched : 0;
    const end = Math.max(this.scheduleStart + scheduleDurationMs(this.task.stages), lastAdded);
    const wait = Math.max(0, end - now()) + this.task.drainTimeoutMs;
    this.drainTimer = setTimeout(() => this.cutStragglers(), wait);
  }

  private stop(): void {
    if (this.stopping || this.completed) return;
    this.stopping = true;
    this.cancelWake();
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    if (this.active.size === 0) return this.complete();
    this.cutStragglers();
  }

  // Close open sockets with 1001, cut the rest; what still hangs after the grace is terminated.
  private cutStragglers(): void {
    // Once only: a second call would cut the sockets that are closing politely.
    if (this.graceTimer) return;
    this.stopping = true;
    this.cancelWake();
    for (const attempt of [...this.active]) attempt.interrupt();
    if (this.active.size === 0) return this.complete();
    const grace = this.rehearsal ? REHEARSAL_CLOSE_GRACE_MS : CLOSE_GRACE_MS;
    this.graceTimer = setTimeout(() => {
      for (const attempt of [...this.active]) attempt.terminate();
      this.graceTimer = setTimeout(() => {
        for (const attempt of [...this.active]) attempt.forceFinish();
      }, grace).unref();
    }, grace).unref();
  }

  private complete(): void {
    if (this.completed) return;
    this.completed = true;
    if (WorkerRun.pumping === this) WorkerRun.pumping = null;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.deadlineTimer) clearInterval(this.deadlineTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.cancelWake();
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
    let steps: Record<string, { fromStart?: string; fromOpen?: string }> | undefined;
    for (const [name, h] of this.stepHistograms) {
      if (h.fromStart.totalCount === 0) continue;
      (steps ??= {})[name] = { fromStart: encodeHistogram(h.fromStart), fromOpen: encodeHistogram(h.fromOpen) };
      h.fromStart.reset();
      h.fromOpen.reset();
    }
    this.post({
      type,
      steps,
      worker: this.workerIndex,
      from: this.intervalStart,
      at,
      records: this.records,
      histograms,
      openNow: this.openNow,
      inFlight: this.active.size,
      pending: this.stopping ? 0 : this.indices.length - this.next + this.added.length - this.nextAdded,
    });
    this.records = [];
    this.intervalStart = at;
  }

  private post(msg: WorkerToMain): void {
    this.task.port.postMessage(msg);
  }
}
