import { now } from '../util/clock.js';
import { scheduleOffsets, scheduleDurationMs, type Stage } from '../schedule/arrival.js';
import { stripeIndices } from '../schedule/stripe.js';
import { planWake, SPIN_WINDOW_MS, type HandshakeWaiter } from './wake.js';
import type { AddedAttempt } from './protocol.js';
import { TimerHeap } from './timer-heap.js';

/**
 * Starts in one turn of the loop, and from one socket event, at most: a worker that fell behind
 * (a GC pause, a stolen vCPU, more rate than it can take) catches up in bursts with its sockets'
 * events between them. Starting everything overdue at once starved those events, until most
 * handshakes timed out behind the starts (docs/performance.md, "Notes moved from engine code").
 */
export const STARTS_PER_TURN = 16;
export const STARTS_PER_EVENT = 2;

/** What the scheduler starts attempts through: the worker's run (one class, so the calls stay monomorphic). */
export interface SchedulerHost extends HandshakeWaiter {
  /** Starts (or drops) one attempt scheduled at `scheduled` (epoch ms). */
  launch(index: number, scheduled: number, client?: number, attemptNo?: number): void;
  /** Nothing is left to start, of the schedule or of the added attempts (so far). */
  noneWaiting(): void;
}

/**
 * A worker's starts in time order: its stripe of the precomputed schedule, merged with the
 * attempts added at run time (the on-ready burst, reconnects), each started when due. Between
 * starts it sleeps on one timer, or spins on setImmediate through the last moments (wake.ts).
 */
export class Scheduler {
  /**
   * The wake-up's callback: one function for every Scheduler (the rehearsal's and the run's). A
   * closure per instance made the rehearsal's closures the only call targets V8 saw before T0, so
   * the code it had optimized around them deoptimized at the run's first calls ("wrong call
   * target"). The wake-up, set up to ~100,000 times a second while spinning, finds its scheduler in
   * `pumping` (set by the one that sets the wake-up), as an argument would cost an array per
   * setImmediate. One scheduler pumps at a time in a thread: the rehearsal has ended, its wake-up
   * cancelled, before the run's `go`.
   */
  private static pumping: Scheduler | null = null;
  private static readonly pumpNow = (): void => Scheduler.pumping?.pump();

  private readonly offsets: Float64Array;
  private readonly indices: Uint32Array;
  private readonly durationMs: number;
  private scheduleStart = 0;
  private next = 0;
  /** Attempts added at run time and not started yet, the earliest first. */
  private readonly added = new TimerHeap<AddedAttempt>();
  /** Stopped or done: starts nothing more and sets no wake-up. */
  private halted = false;
  private pumpTimer: NodeJS.Timeout | null = null;
  private pumpImmediate: NodeJS.Immediate | null = null;
  /** When the next attempt is due (epoch ms; Infinity when none is waiting). */
  private nextDue = Infinity;
  /** Spin accounting: since when this spin runs (0: not spinning), ms spun in this window. */
  private spinSince = 0;
  private spinUsed = 0;
  private spinWindowStart = 0;

  constructor(
    private readonly host: SchedulerHost,
    stages: Stage[],
    stripe: { index: number; count: number },
    private readonly spinBudget: number,
  ) {
    this.offsets = scheduleOffsets(stages);
    this.indices = stripeIndices(this.offsets.length, stripe);
    this.durationMs = scheduleDurationMs(stages);
  }

  /** Attempts this worker owns in the schedule. */
  get scheduled(): number {
    return this.indices.length;
  }

  /** Starts the schedule, whose offset 0 is `scheduleStart` (epoch ms). */
  begin(scheduleStart: number): void {
    this.scheduleStart = scheduleStart;
    this.pump();
  }

  /** Merges attempts added at run time into the ones still waiting. */
  add(attempts: AddedAttempt[]): void {
    for (const a of attempts) this.added.push(a, a.sched);
  }

  /** Queues one added attempt (a retry), after every waiting one scheduled no later. */
  insert(retry: AddedAttempt): void {
    this.added.push(retry, retry.sched);
  }

  /** Forgets the added attempts still waiting that `unwanted` picks (the population's retries once its time is up). */
  discard(unwanted: (a: AddedAttempt) => boolean): void {
    this.added.filter((a) => !unwanted(a));
  }

  /** Starts what is due now, the wake-up already set cancelled. */
  repump(maxStarts = STARTS_PER_TURN): void {
    this.cancelWake();
    this.pump(maxStarts);
  }

  /** Starts nothing more: the wake-up is cancelled, and none is set again. */
  halt(): void {
    this.halted = true;
    this.cancelWake();
    if (Scheduler.pumping === this) Scheduler.pumping = null;
  }

  /**
   * Starts every attempt that is due (from the schedule and the added ones), then sleeps until
   * the next (sleepUntilNext). Between turns, socket events call keepSchedule(), so a long batch
   * of I/O callbacks cannot hold a start back by more than one callback.
   */
  pump(maxStarts = STARTS_PER_TURN): void {
    this.pumpTimer = null;
    this.pumpImmediate = null;
    if (this.halted) return;
    const t = now();
    if (this.spinSince > 0) {
      this.spinUsed += t - this.spinSince;
      this.spinSince = 0;
    }
    // What is due past maxStarts waits one turn (sleepUntilNext then spins), behind the socket events.
    for (let started = 0; started < maxStarts; started++) {
      const scheduled = this.nextScheduled();
      const added = this.added.peek();
      if (added && (scheduled === null || added.sched < scheduled) && added.sched <= t) {
        this.added.pop();
        this.host.launch(added.i, added.sched, added.client, added.try);
      } else if (scheduled !== null && scheduled <= t) {
        this.host.launch(this.indices[this.next++], scheduled);
      } else break;
    }
    this.nextDue = Math.min(this.nextScheduled() ?? Infinity, this.added.peekDue());
    if (!Number.isFinite(this.nextDue)) this.host.noneWaiting();
    if (!this.halted) this.sleepUntilNext();
  }

  /** From a socket event: starts what has come due meanwhile (at most STARTS_PER_EVENT). */
  keepSchedule(): void {
    if (this.nextDue <= now() && !this.halted) {
      this.cancelWake();
      this.pump(STARTS_PER_EVENT);
    }
  }

  /** Whether every attempt, scheduled or added so far, has started. */
  allStarted(): boolean {
    return this.next >= this.indices.length && this.added.size === 0;
  }

  /** Attempts not yet started. */
  pending(): number {
    return this.indices.length - this.next + this.added.size;
  }

  /** When the last start is due: the schedule's end, or the last added attempt's if later (epoch ms). */
  lastStart(): number {
    return Math.max(this.scheduleStart + this.durationMs, this.added.latestDue());
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
    const wake = planWake(this.nextDue - t, this.spinUsed, this.spinBudget, this.host);
    this.cancelWake(); // a pump nested in a socket event may have left one set: one at a time
    Scheduler.pumping = this; // the scheduler that sets the wake-up is the one it wakes
    if (wake.spin) {
      this.spinSince = t;
      this.pumpImmediate = setImmediate(Scheduler.pumpNow);
    } else if (Number.isFinite(wake.timeoutMs)) {
      this.pumpTimer = setTimeout(Scheduler.pumpNow, wake.timeoutMs);
    }
  }

  /** Clears the pending wake-up (timer or spin turn), if any. */
  private cancelWake(): void {
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    if (this.pumpImmediate) clearImmediate(this.pumpImmediate);
    this.pumpTimer = null;
    this.pumpImmediate = null;
  }

  private nextScheduled(): number | null {
    return this.next < this.indices.length ? this.scheduleStart + this.offsets[this.indices[this.next]] : null;
  }
}
