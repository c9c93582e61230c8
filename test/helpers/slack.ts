import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { LatencyStats } from '../../src/record/histogram.js';

/**
 * Timing slack for tests, taken from what the run measured of itself instead of fixed
 * milliseconds, so a bound holds on a busy machine exactly as far as the run says it was busy.
 *
 * A latency wsrace reports can exceed what the server did by how late wsrace itself was:
 *  - an attempt starts up to `scheduleLagMs.max` after its scheduled time;
 *  - every socket event it then waits for may sit in its worker's queue while that thread is
 *    busy or not scheduled. `loopDelayMs` samples exactly that on the worker's 2 ms deadline
 *    tick, so a wait is at most `loopDelayMs.max` plus one tick (a stall that begins just after
 *    a tick is seen by the next one 2 ms short);
 *  - deadlines (handshakeTimeout, hold, closeTimeout, expect's within) are checked on that same
 *    tick: one fires up to a tick plus the loop's delay after it is due.
 * What summary.json reports is read from HDR histograms with 3 significant digits: a value reads
 * back up to 0.1 % above what was recorded, rounded to 1 µs.
 */

/** The workers' deadline tick without a stream (src/engine/worker-run.ts DEADLINE_TICK_MS; 1 ms with one, so this bound covers both). */
export const DEADLINE_TICK_MS = 2;

/** How far above `ms` summary.json may show it: HDR's 3 significant digits, then 1 µs rounding. */
export const hdrResolution = (ms: number): number => ms / 1000 + 0.001;

/** What slackFrom reads of a summary (summary.json or a RunResult's summary). */
export interface RunLateness {
  scheduleLagMs: Pick<LatencyStats, 'max'>;
  loopDelayMs: Pick<LatencyStats, 'max'>;
}

export interface SlackOptions {
  /** Socket events the measured span waited on, one after another (connect, 101, a message …). */
  events?: number;
  /** Deadlines the span ran to (a timeout, a hold, closeTimeout). */
  deadlines?: number;
  /** Whether the span starts at the scheduled start (handshake, handshakeFail): then the start lag counts. */
  fromSchedule?: boolean;
}

/** How late wsrace itself may have made a span of this run, in ms. */
export function slackFrom(summary: RunLateness, { events = 1, deadlines = 0, fromSchedule = true }: SlackOptions = {}): number {
  const perWait = (summary.loopDelayMs.max ?? 0) + DEADLINE_TICK_MS;
  return (fromSchedule ? (summary.scheduleLagMs.max ?? 0) : 0) + (events + deadlines) * perWait;
}

/**
 * The most summary.json may show for a span that took `ms` on the other side (the server's delay,
 * a timeout), given wsrace's own measured lateness and `extraMs` measured elsewhere (a test
 * server's event loop: see watchLoop).
 */
export function atMost(ms: number, summary: RunLateness, options: SlackOptions & { extraMs?: number } = {}): number {
  const value = ms + slackFrom(summary, options) + (options.extraMs ?? 0);
  return value + hdrResolution(value);
}

/** Sampling period of watchLoop, in ms: the finest Node allows. */
const LOOP_SAMPLE_MS = 1;

export interface LoopWatch {
  /** The longest an event could have waited on this thread since the watch began, in ms. */
  maxWaitMs(): number;
  stop(): void;
}

/**
 * Measures this thread's own event loop while a run goes: the thread where in-process test
 * servers answer and where runScenario reads the target's log and probes its health. wsrace's
 * summary measures its workers, not this thread; a bound on what happens here uses this.
 * Node records each sample as the whole interval between two ticks of a 1 ms timer, so its max
 * is already the longest an event that arrived just after a tick could have waited.
 */
export function watchLoop(): LoopWatch {
  const h = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  h.enable();
  return {
    maxWaitMs: () => Math.max(h.max / 1e6, LOOP_SAMPLE_MS),
    stop: () => h.disable(),
  };
}

/**
 * wsrace and a simulator process stamp times on their own clocks: wall time read once at each
 * process's start plus a monotonic clock, which agree across processes to within microseconds.
 * 1 ms bounds the disagreement; tests that compare across processes check it on the run's own
 * data (nothing may arrive before it was sent) with expectClocksAgree (coldstart.ts).
 */
export const CROSS_PROCESS_CLOCK_MS = 1;
