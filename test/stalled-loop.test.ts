import { MessageChannel } from 'node:worker_threads';
import type net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import runWorker from '../src/engine/worker.js';
import { connectionSettings } from '../src/run/run.js';
import { parseScenarioText } from '../src/scenario/load.js';
import type { WorkerToMain } from '../src/engine/protocol.js';
import type { AttemptRecord } from '../src/record/attempt.js';
import { acceptKey, closeFrame, startRawServer, switching } from './helpers/raw-server.js';

/**
 * The worker runs in this thread, beside a raw server whose handler stalls the thread: the
 * server's answer reaches the client's socket before its deadline, but the thread cannot read it
 * until the stall ends, when the deadline is already past. A stall of the generator's own loop
 * must not turn a timely answer into a timeout (it shows as loopDelayMs and late timestamps).
 */
async function runAgainst(target: string, session: string, onRequest: (head: string, socket: net.Socket) => void): Promise<AttemptRecord> {
  const server = await startRawServer(onRequest);
  onTestFinished(() => server.close());
  const { scenario } = parseScenarioText(`name: s\ntarget:\n  url: ${server.url}\n${target}load:\n  stages: [{ duration: 100ms, rate: 10 }]\n${session}`, 's.yaml');
  const { port1, port2 } = new MessageChannel();
  const records: AttemptRecord[] = [];
  port1.on('message', (msg: WorkerToMain) => {
    if (msg.type === 'ready') port1.postMessage({ type: 'go', scheduleStart: Date.now(), t0: Date.now() });
    else if (msg.type === 'records' || msg.type === 'tick' || msg.type === 'done') records.push(...msg.records);
  });
  onTestFinished(() => port1.close());
  const connection = connectionSettings(scenario);
  // One attempt (100 ms at 10/s), no warm-up, no spinning: only the stall decides the timing.
  await runWorker({ workerIndex: 0, workerCount: 1, stripe: { index: 0, count: 1 }, stages: [{ durationMs: 100, rate: 10 }], capacity: 10, drainTimeoutMs: 2000, tickMs: 1000, connection, awaitSeal: false, population: null, warmup: 0, spinBudget: 0, nice: null, port: port2 });
  await new Promise((resolve) => setImmediate(resolve)); // the port's last messages
  expect(records).toHaveLength(1);
  return records[0];
}

/** The stall: longer than every deadline the tests set, by more than a busy machine's hiccups. */
const STALL_MS = 800;

/**
 * Answers the upgrade, then, once the client has read the 101 (its open starts the deadline), sends
 * a close frame 1011 and stalls, both from an immediate: the loop's next turn begins with its
 * timers, before it reads sockets (a stall in a timer callback would be followed by the reads of
 * the same turn, and the test would pass without the fix).
 */
function closeDuringStall(head: string, socket: net.Socket): void {
  socket.write(switching(acceptKey(head)));
  setTimeout(() => {
    setImmediate(() => {
      socket.end(closeFrame(1011, Buffer.from('not ready')));
      stall(STALL_MS);
    });
  }, 10);
}

/** Keeps this thread busy for `ms`: no timer, no socket event runs meanwhile. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe("a stall of wsrace's own loop", () => {
  it('a 101 that arrived before the handshake deadline is read before the deadline is judged: open, not handshake_timeout', async () => {
    // Deadlines well beyond a busy machine's hiccups, and a stall well beyond them.
    const r = await runAgainst('  handshakeTimeout: 500ms\n', 'session:\n  hold: 0ms\n', (head, socket) => {
      socket.write(switching(acceptKey(head)));
      socket.on('data', () => socket.end()); // the client's close frame (hold 0): hang up
      stall(STALL_MS);
    });
    expect([r.outcome, r.err ?? null, r.open !== null, r.code]).toEqual(['close', null, true, 1006]);
    // The open is stamped when the thread could read it: after the stall, past the timeout.
    expect(r.open! - r.start!).toBeGreaterThan(500);
  });

  it('a deadline with nothing come before it still fires after the stall: handshake_timeout', async () => {
    const r = await runAgainst('  handshakeTimeout: 500ms\n', 'session:\n  hold: 0ms\n', () => stall(STALL_MS));
    expect([r.outcome, r.err ?? null, r.open]).toEqual(['handshake_timeout', null, null]);
  });

  it('a close frame that arrived before the expect deadline is read first: closed 1011, not an expect timeout', async () => {
    const r = await runAgainst('  handshakeTimeout: 2s\n', 'session:\n  hold: 100ms\n  expect: { match: pong, within: 500ms }\n', closeDuringStall);
    expect([r.outcome, r.code, r.reason, r.err ?? null]).toEqual(['close', 1011, 'not ready', null]);
  });

  it('the same for a scripted step: its expect is failed by the close (stepFail closed), not timed out', async () => {
    const r = await runAgainst('  handshakeTimeout: 2s\n', 'session:\n  steps:\n    - expect: { name: ready, match: pong, within: 500ms }\n', closeDuringStall);
    expect([r.outcome, r.code, r.step, r.stepFail]).toEqual(['close', 1011, 'ready', 'closed']);
  });
});
