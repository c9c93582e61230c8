/**
 * What a worker thread changes beyond itself, done once, when the worker entry (worker.ts) starts
 * its task, and never when a module of the engine is merely imported (a library user's process
 * keeps its V8 flags and ws as shipped).
 */
import v8 from 'node:v8';
import { readFaultPlan, type FaultPlan } from './faults.js';
import { quietReceiverEnds } from './quiet-end.js';
import { releaseReceiverFragments } from './receiver-fragments.js';

let faults: FaultPlan | null = null;

/**
 * Sets up this worker's process and thread, the first time it is called; returns the faults the
 * environment asks for (faults.ts, tests only).
 * - Scavenges run on the calling thread alone (`--no-parallel-scavenge`): a worker spins for its
 *   starts, so V8's helper threads could only run by preempting it, or the target, on a small
 *   machine (docs/performance.md, "Notes moved from engine code"). V8 reads the flag at every
 *   scavenge; it applies to the whole process, for good (flags are not per isolate).
 * - ws's receivers in this thread skip the end() calls that only build an error (quiet-end.ts),
 *   and empty the fragments array each message leaves behind (receiver-fragments.ts).
 */
export function initWorkerProcess(): FaultPlan {
  if (faults) return faults;
  v8.setFlagsFromString('--no-parallel-scavenge');
  quietReceiverEnds();
  releaseReceiverFragments();
  faults = readFaultPlan(process.env);
  return faults;
}
