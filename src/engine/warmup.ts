import http from 'node:http';
import net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { createHistogram, encodeHistogram, recordMs } from '../record/histogram.js';
import { now } from '../util/clock.js';

/** A run of the worker's own engine against the warm-up server (see rehearsal.ts), over by `deadline` (epoch ms). */
export type Rehearsal = (url: string, deadline: number) => Promise<void>;

/** How many loopback connections a worker makes before it reports ready. */
export const DEFAULT_WARMUP_CONNECTIONS = 400;
const WARMUP_CONCURRENCY = 16;
/**
 * Warm-up is a courtesy to the schedule, never a reason to fail or delay a run for long: the
 * plain loop gets at most 1 s, and it and the rehearsal together 2.5 s.
 */
const PLAIN_TIMEOUT_MS = 1000;
export const WARMUP_BUDGET_MS = 2500;
/** The rehearsal's grace before its stragglers are cut, and the time kept back for it twice (terminate, then give up). */
export const REHEARSAL_CLOSE_GRACE_MS = 100;
export const REHEARSAL_RESERVE_MS = 2 * REHEARSAL_CLOSE_GRACE_MS;
/** A rehearsal with less time than this to run (after that reserve) would not get far enough to be worth it. */
const MIN_REHEARSAL_MS = 200;

/**
 * Pushes `count` connections through ws's client (open, one message each way, close 1000)
 * against a server on 127.0.0.1 in this thread, before the worker reports ready, so the run's
 * first attempts meet JIT-compiled code rather than the interpreter. A cold worker's first
 * second used to run with several times the schedule lag of the rest, and the first second
 * after T0 is where a cold-start race lives. The histogram encoding of the per-second tick is
 * warmed too: cold, the first tick's encode stalled the worker (docs/performance.md). Then
 * `rehearse`, when given, runs the worker's own scheduler and attempt code against the same
 * server. Nothing here touches the target.
 */
export async function warmUp(count: number, rehearse?: Rehearsal): Promise<void> {
  if (count <= 0) return;
  const deadline = now() + WARMUP_BUDGET_MS;
  const h = createHistogram();
  for (let k = 0; k < 50; k++) {
    for (let v = 0; v < 200; v++) recordMs(h, (v * 7919) % 997 / 10);
    encodeHistogram(h);
    h.reset();
  }
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
  const clients = new Set<WebSocket>();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const url = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    let started = 0;
    await new Promise<void>((resolve) => {
      let finished = 0;
      let over = false;
      const end = (): void => {
        over = true;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(end, PLAIN_TIMEOUT_MS);
      const next = (): void => {
        if (over || started >= count) return;
        started++;
        const ws = new WebSocket(url, { perMessageDeflate: false, createConnection: net.connect as never });
        clients.add(ws);
        ws.on('open', () => ws.send('warm'));
        ws.on('message', () => ws.close(1000));
        ws.on('error', () => undefined);
        ws.on('close', () => {
          clients.delete(ws);
          if (++finished >= count) end();
          else next();
        });
      };
      for (let k = 0; k < WARMUP_CONCURRENCY; k++) next();
    });
    // The plain loop's stragglers (after its timeout) go first: the rehearsal's sockets are its own.
    for (const ws of clients) ws.terminate();
    if (rehearse && deadline - now() - REHEARSAL_RESERVE_MS >= MIN_REHEARSAL_MS) await rehearse(url, deadline);
  } catch {
    // No loopback listener (an odd sandbox): run cold rather than not at all.
  } finally {
    // Nothing of the warm-up may outlive it: not a socket (after a timeout), not the listener.
    // So its descriptors are free again before `ready`, and never share the run's budget.
    for (const ws of clients) ws.terminate();
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
