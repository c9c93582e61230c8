import type { Histogram } from 'hdr-histogram-js';
import { now } from '../util/clock.js';
import { recordMsWithExpectedInterval, type Metric } from '../record/histogram.js';
import type { AttemptRecord } from '../record/attempt.js';
import { connected } from '../record/clients.js';
import { Attempt, type AttemptHost, type DeadlineKind } from './connection.js';
import { compileTemplates, type CompiledTemplates } from './templates.js';
import { DeadlineQueue } from './deadlines.js';
import { compileStream, type CompiledStream, type MessageStream } from './stream.js';
import { TimerHeap } from './timer-heap.js';
import { isPopulationClient, populationRetryDelay, populationShare, worked } from './population.js';
import { WorkerFaults } from './faults.js';
import { applyNice } from './priority.js';
import { retryDelay } from './reconnect-policy.js';
import { Reporter } from './reporter.js';
import { Scheduler, STARTS_PER_EVENT, STARTS_PER_TURN, type SchedulerHost } from './scheduler.js';
import { SourcePorts, sliceOf } from './source-ports.js';
import { AWAIT_SPIN_MS } from './wake.js';
import { REHEARSAL_CLOSE_GRACE_MS } from './warmup.js';
import type { ConnectionSettings, MainToWorker, WorkerTask } from './protocol.js';

/** How often the deadline queues are checked: the resolution of timeouts and hold times. */
const DEADLINE_TICK_MS = 2;
/**
 * With a stream, sends wake on the same tick: every wake-up is a send's lag, so the tick is as
 * fine as Node's timers go (they count whole milliseconds).
 */
const STREAM_TICK_MS = 1;
/**
 * Stream sends made from one socket event at most, once the tick has let them pass by more than
 * its own period: a long batch of replies (one turn of the loop) must not hold the sends due
 * meanwhile back until its end, nor run them all inside one event. Sends on time stay on the tick,
 * batched (sending every due one from events took the population bench's retries' lag p99 to
 * 23–137 ms against 19–33 ms; docs/performance.md).
 */
const SENDS_PER_EVENT = 4;
/** Population sessions ended per turn of the loop when its time is up (~30 µs each). */
const END_SESSIONS_PER_TURN = 500;
/** After asking sockets to close at the end, how long before they are cut (the rehearsal's: warmup.ts). */
const CLOSE_GRACE_MS = 1000;

/**
 * What the deadline queues fire. Module-level, like every callback on the hot path (see WorkerRun's
 * static ones): one function per call site for every WorkerRun, the rehearsal's and the run's.
 */
const fireHandshake = (a: Attempt): void => a.handshakeDeadline();
const fireHold = (a: Attempt): void => a.holdDeadline();
const fireExpect = (a: Attempt): void => a.expectDeadline();
const fireStream = (s: MessageStream, due: number): void => s.fire(due);

/**
 * One worker task's run: report ready, wait for `go`, start its stripe of attempts on schedule
 * (Scheduler), keep their deadlines and capacity (AttemptHost), stream records and interval
 * histograms every tick (Reporter), retry reconnecting clients (reconnect-policy.ts), and finish
 * with a `done` message once every attempt has an outcome (or the drain time ran out).
 */
export class WorkerRun implements AttemptHost, SchedulerHost {
  /**
   * The intervals' callbacks: one function for every WorkerRun, each given its run as an argument
   * (one array per interval). A closure per instance made the rehearsal's closures the only call
   * targets V8 saw before T0, and the run's first calls deoptimized the code built around them.
   */
  private static readonly deadlineTick = (run: WorkerRun): void => run.checkDeadlines();
  private static readonly tick = (run: WorkerRun): void => run.flush('tick');

  readonly settings: ConnectionSettings;
  readonly workerIndex: number;
  readonly expectRe: RegExp | null;
  readonly histograms: Record<Metric, Histogram>;
  readonly templates: CompiledTemplates;
  readonly sourcePorts: SourcePorts;
  readonly stream: CompiledStream | null;
  /** Epoch ms of T0 (from `go`): a stream's `${sentAt}` counts from it. */
  t0 = 0;
  private readonly stepRegexes: RegExp[];
  /** Every socket's next stream send (or end of its wait for the last replies). */
  private readonly streamTimers = new TimerHeap<MessageStream>();
  private readonly deadlineTickMs: number;
  private readonly scheduler: Scheduler;
  private readonly reporter: Reporter;
  private sealed: boolean;
  /** load.population's time is up (true from the start without one): its sockets close, its clients stop. */
  populationOver: boolean;
  private populationTimer: NodeJS.Timeout | null = null;
  /** Per population client, its attempts that failed in a row (the backoff's exponent). */
  private readonly failures = new Map<number, number>();
  private readonly active = new Set<Attempt>();
  private openNow = 0;
  /** Of them, a population's clients' sockets: the clients connected now. */
  private clientsOpen = 0;
  private stopping = false;
  private completed = false;
  private tickTimer: NodeJS.Timeout | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  /** When the deadline tick last ran (from `go`, so the first tick is judged late or not like the others). */
  private lastDeadlineCheck = 0;
  /** Retries start from this index upward, per worker, so every attempt keeps a unique index. */
  private nextRetryIndex: number;
  private readonly deadlines: Record<DeadlineKind, DeadlineQueue> = {
    handshake: new DeadlineQueue(fireHandshake),
    hold: new DeadlineQueue(fireHold),
    expect: new DeadlineQueue(fireExpect),
  };
  private resolve!: (v: { worker: number }) => void;

  /** `rehearsal`: the warm-up run before T0 (rehearsal.ts), with faults that never fire. */
  constructor(
    private readonly task: WorkerTask,
    private readonly faults: WorkerFaults = new WorkerFaults(task.workerIndex),
    private readonly rehearsal = false,
  ) {
    this.settings = task.connection;
    this.workerIndex = task.workerIndex;
    this.expectRe = task.connection.expect ? new RegExp(task.connection.expect.match) : null;
    this.reporter = new Reporter(task.port, task.workerIndex);
    this.histograms = this.reporter.histograms;
    this.templates = compileTemplates(task.connection);
    this.stream = compileStream(task.connection);
    this.deadlineTickMs = this.stream !== null && this.stream.everyMs > 0 ? STREAM_TICK_MS : DEADLINE_TICK_MS;
    // Set only with source addresses (connectionSettings); the rehearsal's, when set, are the run's.
    const ports = task.connection.sourcePorts;
    this.sourcePorts = new SourcePorts(ports ? sliceOf(ports, task.stripe.index, task.stripe.count) : null);
    this.stepRegexes = (task.connection.steps ?? []).map((st) => (st.kind === 'expect' && st.match !== null ? new RegExp(st.match) : /$^/));
    this.scheduler = new Scheduler(this, task.stages, task.stripe, task.spinBudget);
    this.sealed = !task.awaitSeal;
    this.populationOver = task.population === null;
    // By the global stripe, not the worker's number in its process: retries of two shards (each
    // with its worker 0) must not share indices in the merged events.ndjson and messages.ndjson.
    this.nextRetryIndex = 0x40000000 + task.stripe.index * 0x1000000;
  }

  /** The most attempts this worker may start: its stripe, and a burst's share when one may be added. */
  get attemptsAtMost(): number {
    return this.scheduler.scheduled + (this.task.awaitSeal ? this.task.capacity : 0);
  }

  /**
   * Runs the task to its end: the thread's priority, then `warm` (the warm-up and rehearsal, before
   * `ready`), then the schedule once `go` comes.
   */
  async run(warm?: () => Promise<void>): Promise<{ worker: number }> {
    const nice = applyNice(this.task.nice);
    if (warm) await warm();
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.task.port.on('message', (msg: MainToWorker) => this.onControl(msg));
      const population = populationShare(this.task.population, this.task.stripe, 0).length;
      this.reporter.post({ type: 'ready', worker: this.workerIndex, scheduled: this.scheduler.scheduled + population, nice });
    });
  }

  private onControl(msg: MainToWorker): void {
    if (msg.type === 'go') {
      this.t0 = msg.t0;
      this.reporter.begin();
      this.tickTimer = setInterval(WorkerRun.tick, this.task.tickMs, this);
      this.deadlineTimer = setInterval(WorkerRun.deadlineTick, this.deadlineTickMs, this);
      this.lastDeadlineCheck = now();
      this.beginPopulation(msg.scheduleStart);
      this.scheduler.begin(msg.scheduleStart);
    } else if (msg.type === 'add') {
      if (this.stopping) return;
      this.scheduler.add(msg.attempts);
      this.repump();
    } else if (msg.type === 'seal') {
      this.sealed = true;
      if (this.populationOver && this.scheduler.allStarted()) this.scheduleDone();
    } else if (msg.type === 'stop') {
      this.stop();
    }
  }

  launch(index: number, scheduled: number, client?: number, attemptNo?: number): void {
    // With reconnects every attempt belongs to a client; a first attempt is its own client.
    if (this.settings.reconnect && client === undefined) {
      client = index;
      attemptNo = 0;
    }
    if (this.active.size >= this.task.capacity) {
      const rec: AttemptRecord = { i: index, w: this.workerIndex, sched: scheduled, start: null, tcp: null, up: null, open: null, first: null, end: now(), outcome: 'dropped', err: 'maxConnections' };
      // Not retried: wsrace's own cap stopped the client, which the summary says as having given up.
      if (client !== undefined) Object.assign(rec, { client, try: attemptNo }, this.gaveUp(rec) ? { gaveUp: true } : {});
      this.reporter.add(rec);
      return;
    }
    const attempt = new Attempt(this, index, scheduled, client, attemptNo, isPopulationClient(client));
    this.active.add(attempt);
    attempt.start();
    this.faults.started();
  }

  noneWaiting(): void {
    if (this.sealed && this.populationOver) this.scheduleDone();
  }

  /** The population's clients join the schedule, and its end is set. */
  private beginPopulation(scheduleStart: number): void {
    const p = this.task.population;
    if (p === null) return;
    this.scheduler.add(populationShare(p, this.task.stripe, scheduleStart));
    this.populationTimer = setTimeout(() => this.endPopulation(), Math.max(0, scheduleStart + p.endMs - now()));
  }

  /** load.duration has passed: every population socket ends its session (closed by wsrace: no disconnect), no client retries. */
  private endPopulation(): void {
    this.populationTimer = null;
    this.populationOver = true;
    this.scheduler.discard((a) => isPopulationClient(a.client));
    this.endSessions([...this.active].filter((a) => a.population), 0);
    if (this.sealed && this.scheduler.allStarted()) this.scheduleDone();
  }

  /**
   * Ends the population's sessions a batch per turn of the loop, from `from`: ending thousands in
   * one turn held the loop (every other socket's events, the ticks) for seconds at a run's end.
   */
  private endSessions(sessions: Attempt[], from: number): void {
    const to = Math.min(sessions.length, from + END_SESSIONS_PER_TURN);
    for (let k = from; k < to; k++) sessions[k].endPopulation();
    if (to < sessions.length) setImmediate(() => this.endSessions(sessions, to));
  }

  /**
   * Whether a handshake started in the last AWAIT_SPIN_MS is in flight: it still waits in the
   * handshake deadline queue (due = start + timeout). planWake asks only when it decides.
   */
  awaitingHandshakes(): boolean {
    return this.deadlines.handshake.waitingAfter(now() - AWAIT_SPIN_MS + this.settings.handshakeTimeoutMs);
  }

  keepSchedule(): void {
    this.scheduler.keepSchedule();
    if (this.streamTimers.size > 0) {
      const t = now();
      // Only sends the tick has let pass (a long turn holds it back): the tick sends the rest, batched.
      if (this.streamTimers.peekDue() <= t - STREAM_TICK_MS) this.streamTimers.check(t, fireStream, SENDS_PER_EVENT);
    }
  }

  opened(attempt: Attempt): void {
    this.openNow++;
    if (isPopulationClient(attempt.rec.client)) this.clientsOpen++;
  }

  stepRegex(index: number): RegExp {
    return this.stepRegexes[index];
  }

  recordStep(name: string, fromStartMs: number, fromOpenMs: number): void {
    this.reporter.recordStep(name, fromStartMs, fromOpenMs);
  }

  streamTimer(stream: MessageStream, due: number): void {
    this.streamTimers.push(stream, due);
  }

  messageEntry(attempt: number, seq: number, at: number, rttMs: number, kind: number, code: number, flags: number): void {
    this.reporter.addMessage(attempt, seq, at, rttMs, kind, code, flags);
  }

  watch(kind: DeadlineKind, attempt: Attempt, due: number): number {
    return this.deadlines[kind].push(attempt, due);
  }

  unwatch(kind: DeadlineKind, ticket: number): void {
    this.deadlines[kind].cancel(ticket);
  }

  private checkDeadlines(): void {
    const t = now();
    const late = t - this.lastDeadlineCheck - this.deadlineTickMs;
    // The tick's own lateness is the event loop's: socket events queued behind the same work
    // could have waited as long, and their latencies would carry it (loopDelay).
    recordMsWithExpectedInterval(this.histograms.loopDelay, late, this.deadlineTickMs);
    this.lastDeadlineCheck = t;
    // After a stall, the sockets may hold answers that came before these deadlines, unread because
    // a turn of the loop runs its timers before it reads: judge the deadlines (as of t) once they
    // are read, so wsrace's own stall is not a target's timeout.
    if (late > this.deadlineTickMs) setImmediate(WorkerRun.expireAfterReads, this, t);
    else this.expire(t);
    if (this.streamTimers.size > 0) this.streamTimers.check(t, fireStream);
  }

  private static readonly expireAfterReads = (run: WorkerRun, t: number): void => run.expire(t);

  /** Fires the handshake, expect and hold deadlines due at or before `t`. */
  private expire(t: number): void {
    this.deadlines.handshake.check(t);
    this.deadlines.expect.check(t);
    this.deadlines.hold.check(t);
  }

  finished(attempt: Attempt, record: AttemptRecord, wasOpen: boolean): void {
    this.active.delete(attempt);
    if (wasOpen) {
      this.openNow--;
      if (isPopulationClient(record.client)) this.clientsOpen--;
    }
    const delay = this.nextRetryDelay(record);
    if (delay === null && this.gaveUp(record)) record.gaveUp = true;
    this.reporter.add(record);
    if (delay !== null) this.reconnect(record, delay);
    if (this.stoppingOrDone() && this.active.size === 0) this.complete();
  }

  // A reconnecting client whose attempt failed the way `on` lists tries again after backoff.
  private nextRetryDelay(r: AttemptRecord): number | null {
    if (this.stopping || r.client === undefined) return null;
    return isPopulationClient(r.client) ? this.populationRetry(r) : retryDelay(this.settings.reconnect, r, Math.random());
  }

  /**
   * A client that will not try again though the run goes on, after an attempt that left it
   * without a working socket (it failed, or served and was cut): its policy stopped it (`max`
   * used, or an outcome `on` does not list), or wsrace's socket cap did. A socket wsrace itself
   * closed (an arrival's hold, a population's `close` step) is a client done.
   */
  private gaveUp(r: AttemptRecord): boolean {
    if (this.stopping || r.client === undefined) return false;
    if (isPopulationClient(r.client)) return !this.populationOver && !(r.outcome === 'close' && r.serverClosed === false);
    return this.settings.reconnect !== null && !connected(r);
  }

  private reconnect(r: AttemptRecord, delay: number): void {
    this.scheduler.insert({ i: this.nextRetryIndex++, sched: now() + delay, client: r.client, try: (r.try ?? 0) + 1 });
    // Called from a socket event (or a start that failed at once): the per-event cap applies.
    this.repump(STARTS_PER_EVENT);
  }

  /** A population client's next try: after a drop of a socket that worked, or a failed try; never once the population's time is up. */
  private populationRetry(r: AttemptRecord): number | null {
    if (this.populationOver) return null;
    const failures = worked(r, this.settings.servedAfterMs) ? 0 : (this.failures.get(r.client!) ?? 0) + 1;
    this.failures.set(r.client!, failures);
    return populationRetryDelay(this.task.population!, r, failures, Math.random());
  }

  private repump(maxStarts = STARTS_PER_TURN): void {
    if (this.drainTimer) {
      clearTimeout(this.drainTimer);
      this.drainTimer = null;
    }
    this.scheduler.repump(maxStarts);
  }

  private stoppingOrDone(): boolean {
    return this.stopping || (this.sealed && this.populationOver && this.scheduler.allStarted());
  }

  private scheduleDone(): void {
    if (this.active.size === 0) return this.complete();
    if (this.drainTimer) return;
    const wait = Math.max(0, this.scheduler.lastStart() - now()) + this.task.drainTimeoutMs;
    this.drainTimer = setTimeout(() => this.cutStragglers(), wait);
  }

  private stop(): void {
    if (this.stopping || this.completed) return;
    this.stopping = true;
    if (this.populationTimer) clearTimeout(this.populationTimer);
    this.scheduler.halt();
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
    this.scheduler.halt();
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
    this.scheduler.halt();
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.deadlineTimer) clearInterval(this.deadlineTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.populationTimer) clearTimeout(this.populationTimer);
    this.flush('done');
    this.task.port.close();
    this.resolve({ worker: this.workerIndex });
  }

  private flush(type: 'tick' | 'done'): void {
    this.reporter.flush(type, { openNow: this.openNow, clientsOpen: this.clientsOpen, inFlight: this.active.size, pending: this.stopping ? 0 : this.scheduler.pending() });
  }
}
