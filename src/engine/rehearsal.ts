import { MessageChannel } from 'node:worker_threads';
import { now } from '../util/clock.js';
import { REHEARSAL_RESERVE_MS, warmUp } from './warmup.js';
import { WorkerRun } from './worker-run.js';
import type { ConnectionSettings, MainToWorker, WorkerTask, WorkerToMain } from './protocol.js';

/**
 * The rehearsal's size and pace; warm-up's budget bounds it (WARMUP_BUDGET_MS). Enough attempts
 * that the first half-seconds after T0 keep the lag of the rest, at about 0.9 s before T0
 * (docs/performance.md, "Notes moved from engine code").
 */
const REHEARSAL_ATTEMPTS = 2500;
const REHEARSAL_RATE = 3000;

/**
 * Before `ready`: the plain loopback warm-up, then the rehearsal, for a worker that may start up
 * to `attempts` attempts. Warming more connections than that would cost more than it saves.
 */
export function warmUpWorker(task: WorkerTask, attempts: number): Promise<void> {
  const warm = Math.min(task.warmup, attempts);
  const rehearsal = task.warmup > 0 ? Math.min(REHEARSAL_ATTEMPTS, attempts) : 0;
  return warmUp(warm, (url, deadline) => rehearse(task, url, rehearsal, deadline));
}

/**
 * Before T0, `count` attempts of this worker's own engine (scheduler, spin, Attempt and its
 * listeners, deadline queues, record batches, the interval flush) against the warm-up server, so
 * V8 compiles wsrace's code before the schedule starts and not in its first seconds, when its
 * compile jobs would take the worker's core. Only the plain connect/close path: the session's
 * messages, headers and TLS are the target's business. With source addresses it dials as the run
 * does, binding a port it picks (source-ports.ts), but from 127.0.0.1: the run's addresses are not
 * used before T0. Its records go nowhere.
 */
export async function rehearse(task: WorkerTask, url: string, count: number, deadline: number): Promise<void> {
  if (count <= 0) return;
  const { port1, port2 } = new MessageChannel();
  const run = new WorkerRun(rehearsalTask(task, url, count, port2), undefined, true);
  port1.on('message', (msg: WorkerToMain) => {
    if (msg.type === 'ready') port1.postMessage({ type: 'go', scheduleStart: now() + 5, t0: now() } satisfies MainToWorker);
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
 * The rehearsal's task: a structured clone, like the run's own task (it arrives by postMessage),
 * of copies holding the rehearsal's values. An overridden key keeps its place, so the clone has
 * the run's hidden classes, values included (a deserialized array is not a literal's), and code
 * V8 optimizes here still fits the run. The spread copies themselves had maps of their own
 * (socket-options.ts): the run's first calls deoptimized that code ("wrong map") and compiled it
 * again after T0. With source addresses the run binds ports it picks: so does the rehearsal,
 * from 127.0.0.1.
 */
function rehearsalTask(task: WorkerTask, url: string, count: number, port: WorkerTask['port']): WorkerTask {
  const bind = task.connection.localAddresses.length > 0;
  const connection: ConnectionSettings = { ...task.connection, url, headers: {}, subprotocols: [], localAddresses: bind ? ['127.0.0.1'] : [], sourcePorts: bind ? task.connection.sourcePorts : null, tls: null, send: [], expect: null, steps: null, users: null, reconnect: null, stream: null, serverSeq: null, holdMs: 0, handshakeTimeoutMs: 1000 };
  const stages = [{ durationMs: (count / REHEARSAL_RATE) * 1000, rate: REHEARSAL_RATE }];
  // The port cannot be cloned: a placeholder keeps its key's place, and the real one goes in after.
  const rehearsal = structuredClone({ ...task, connection, stages, stripe: { index: 0, count: 1 }, capacity: 256, drainTimeoutMs: 200, tickMs: 100, awaitSeal: false, population: null, warmup: 0, port: null }) as unknown as WorkerTask;
  rehearsal.port = port;
  return rehearsal;
}
