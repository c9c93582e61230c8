// The floor: the simplest possible ws client loop — no schedule, no recording. Each of
// `concurrency` loops opens a socket, closes it with 1000 once open, and starts the next when it
// has closed. Run in `threads` worker threads, like wsrace's workers. Prints completions/s and the
// handshake p50 of the sockets started after the first `warmMs` (default 0), once its JIT is warm.
// From a source address it names each socket's port, as wsrace does (src/engine/source-ports.ts:
// left to the kernel, each bind() searches that address's taken ports). Only sockets that opened
// count as completed. An optional CA_FILE (after WARM_MS) is trusted for wss://: one SecureContext
// per thread, as wsrace's workers have, so the floor does not pay ws's context per socket.
//   node bench/floor-client.mjs URL SECONDS THREADS CONCURRENCY [SOURCE] [WARM_MS] [CA_FILE]
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import WebSocket from 'ws';
import { SourcePorts, sourcePortRange } from '../dist/engine/source-ports.js';

if (isMainThread) {
  const [url, seconds, threads, concurrency, source, warmMs, caFile] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]), process.argv[6], Number(process.argv[7] ?? 0), process.argv[8] || undefined];
  const ca = caFile ? readFileSync(caFile, 'utf8') : undefined;
  let total = 0;
  let finished = 0;
  /** @type {number[]} */
  const handshakes = [];
  for (let t = 0; t < threads; t++) {
    const w = new Worker(new URL(import.meta.url), { workerData: { url, seconds, concurrency, source, warmMs, ca } });
    w.on('message', (/** @type {{ completed: number, opens: number[] }} */ { completed, opens }) => {
      total += completed;
      handshakes.push(...opens);
      if (++finished === threads) {
        handshakes.sort((a, b) => a - b);
        const p50 = handshakes.length ? handshakes[Math.floor(handshakes.length / 2)] : null;
        process.stdout.write(JSON.stringify({ completed: total, perSecond: total / seconds, handshakeP50Ms: p50 }) + '\n');
        process.exit(0);
      }
    });
  }
} else {
  /** @type {{ url: string, seconds: number, concurrency: number, source: string | undefined, warmMs: number, ca: string | undefined }} */
  const { url, seconds, concurrency, source, warmMs, ca } = workerData;
  const secureContext = ca ? tls.createSecureContext({ ca }) : undefined;
  // A worker thread always has its parent's port.
  const parent = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
  const ports = new SourcePorts(source ? sourcePortRange() : null);
  const end = Date.now() + seconds * 1000;
  const warmUntil = performance.now() + warmMs;
  let completed = 0;
  let running = 0;
  /** @type {number[]} */
  const opens = []; // new WebSocket → open, ms: what a plain client sees as its handshake
  const loop = () => {
    if (Date.now() >= end) {
      if (--running === 0) parent.postMessage({ completed, opens });
      return;
    }
    const started = performance.now();
    const ws = new WebSocket(url, { perMessageDeflate: false, ...(secureContext ? { secureContext } : {}), ...(source ? { localAddress: source, localPort: ports.next(source) || undefined } : {}) });
    let opened = false;
    ws.on('open', () => {
      opened = true;
      if (started >= warmUntil) opens.push(performance.now() - started);
      ws.close(1000);
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (opened) completed++;
      loop();
    });
  };
  for (let i = 0; i < concurrency; i++) {
    running++;
    loop();
  }
}
