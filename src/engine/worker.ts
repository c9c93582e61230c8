import { WorkerFaults } from './faults.js';
import { warmUpWorker } from './rehearsal.js';
import { initWorkerProcess } from './worker-init.js';
import { WorkerRun } from './worker-run.js';
import type { WorkerTask } from './protocol.js';

/**
 * The worker thread's entry (pool.ts hands it to piscina). A worker thread's whole life is one
 * task: set up the thread (worker-init.ts), warm up and rehearse, report ready, wait for `go`,
 * run its stripe of the schedule, and finish with `done` (worker-run.ts).
 */
export default function runWorker(task: WorkerTask): Promise<{ worker: number }> {
  const faults = initWorkerProcess();
  const run = new WorkerRun(task, WorkerFaults.of(faults, task.workerIndex));
  return run.run(() => warmUpWorker(task, run.attemptsAtMost));
}
