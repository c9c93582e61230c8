/**
 * Fault injection for the test suite (test/resilience.test.ts): a worker thread that stalls, as
 * a GC pause or a stolen vCPU would, or dies, as a bug would kill it.
 *
 * WSRACE_FAULT_WORKER_CRASH=<worker>:<attempts> makes that worker die after that many starts.
 * WSRACE_FAULT_WORKER_STALL=<worker>:<attempts>:<ms> blocks that worker's thread that long, once,
 * at that start.
 */
import { now } from '../util/clock.js';

/** The faults asked for in the environment, for every worker of the process. */
export interface FaultPlan {
  readonly crashWorker: number;
  readonly crashAfter: number;
  readonly stallWorker: number;
  readonly stallAfter: number;
  readonly stallMs: number;
}

/** Reads the WSRACE_FAULT_* variables; a worker or count that is not given (or not a number) matches nothing. */
export function readFaultPlan(env: NodeJS.ProcessEnv = process.env): FaultPlan {
  const [crashWorker, crashAfter] = (env.WSRACE_FAULT_WORKER_CRASH ?? '-1:-1').split(':').map(Number);
  const [stallWorker, stallAfter, stallMs] = (env.WSRACE_FAULT_WORKER_STALL ?? '-1:-1:0').split(':').map(Number);
  return { crashWorker, crashAfter, stallWorker, stallAfter, stallMs };
}

/**
 * One worker run's faults, checked at each start it makes. Every run holds one (the rehearsal's
 * and a healthy run's never fire), so the check on the hot path is the same call for all.
 */
export class WorkerFaults {
  private launched = 0;

  /** `stallAt`, `crashAt`: the start (1-based) at which to stall or die; −1: never. */
  constructor(
    private readonly workerIndex: number,
    private readonly stallAt = -1,
    private readonly stallMs = 0,
    private readonly crashAt = -1,
  ) {}

  /** The faults of `plan` that name worker `workerIndex`. */
  static of(plan: FaultPlan, workerIndex: number): WorkerFaults {
    return new WorkerFaults(workerIndex, plan.stallWorker === workerIndex ? plan.stallAfter : -1, plan.stallMs, plan.crashWorker === workerIndex ? plan.crashAfter : -1);
  }

  /** Called after each attempt started: stalls or schedules the crash when their start has come. */
  started(): void {
    const n = ++this.launched;
    if (n === this.stallAt) {
      const until = now() + this.stallMs;
      while (now() < until);
    }
    if (n === this.crashAt) {
      const worker = this.workerIndex;
      // Thrown from its own turn of the loop: the thread dies the way an uncaught bug kills it.
      setImmediate(() => {
        throw new Error(`injected crash in worker ${worker} after ${n} attempts`);
      });
    }
  }
}
