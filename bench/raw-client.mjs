// The raw floor's top rate: the least a client can do per WebSocket open+close, as fast as it
// goes. Each of CONCURRENCY loops on each of THREADS worker threads dials (TCP, or TLS for
// wss:// with one shared SecureContext, as wsrace's workers have), writes the upgrade request at
// connect, waits for the 101, writes a close frame (1000; a fixed zero mask) and waits for the
// server's end, then starts the next. No parsing past the status, no ws, no recording but a
// timestamp per socket: what it completes a second is the box's limit for this job (the server
// included) that wsrace's on-schedule rate is compared with. Each thread names its source ports
// from a slice of the range of its own (src/engine/source-ports.ts), as wsrace's workers do.
//
//   node bench/raw-client.mjs URL SECONDS THREADS CONCURRENCY [SOURCE] [CA_FILE]
// prints { completed, failed, perSecond, threads, concurrency, handshakeP50Ms, tcpP50Ms, tlsP50Ms }:
// completed = the 101 came and the server ended the socket after the close frames; handshakeP50Ms
// is dial → first byte of the 101 (tcpP50Ms dial → TCP connect, tlsP50Ms TCP connect → TLS done).
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { SourcePorts, sliceOf, sourcePortRange } from '../dist/engine/source-ports.js';

/** @typedef {{ completed: number, failed: number, handshakes: number[], tcps: number[], tlss: number[] }} ThreadResult */
/** @typedef {{ url: string, seconds: number, concurrency: number, source: string | undefined, ca: string | undefined, thread: number, threads: number }} ThreadArgs */

/** @param {number[]} xs */
const p50 = (xs) => (xs.length ? +[...xs].sort((a, b) => a - b)[xs.length >> 1].toFixed(3) : null);

if (isMainThread) {
  const [url, seconds, threads, concurrency, source, caFile] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]), process.argv[6] || undefined, process.argv[7] || undefined];
  if (!url || !(seconds > 0 && seconds <= 60) || !(threads >= 1 && threads <= 16) || !(concurrency >= 1 && concurrency <= 1024)) {
    process.stderr.write('usage: node bench/raw-client.mjs URL SECONDS(≤ 60) THREADS(≤ 16) CONCURRENCY(≤ 1024) [SOURCE] [CA_FILE]\n');
    process.exit(2);
  }
  const ca = caFile ? readFileSync(caFile, 'utf8') : undefined;
  /** @type {ThreadResult[]} */
  const results = [];
  for (let thread = 0; thread < threads; thread++) {
    /** @type {ThreadArgs} */
    const args = { url, seconds, concurrency, source, ca, thread, threads };
    const w = new Worker(new URL(import.meta.url), { workerData: args });
    w.on('message', (/** @type {ThreadResult} */ r) => {
      results.push(r);
      if (results.length < threads) return;
      const completed = results.reduce((n, x) => n + x.completed, 0);
      const all = (/** @type {'handshakes' | 'tcps' | 'tlss'} */ k) => results.flatMap((x) => x[k]);
      process.stdout.write(`${JSON.stringify({ completed, failed: results.reduce((n, x) => n + x.failed, 0), perSecond: Math.round(completed / seconds), threads, concurrency, handshakeP50Ms: p50(all('handshakes')), tcpP50Ms: p50(all('tcps')), tlsP50Ms: p50(all('tlss')) })}\n`);
      process.exit(0);
    });
    w.on('error', (err) => {
      process.stderr.write(`raw-client thread ${thread}: ${err.stack ?? err}\n`);
      process.exit(1);
    });
  }
  // Bounded: a server that stops answering leaves loops waiting; never past this.
  setTimeout(() => {
    process.stderr.write('raw-client: the threads did not finish in time\n');
    process.exit(1);
  }, (seconds + 30) * 1000).unref();
} else {
  const { url: text, seconds, concurrency, source, ca, thread, threads } = /** @type {ThreadArgs} */ (workerData);
  const parent = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
  const url = new URL(text);
  const secure = url.protocol === 'wss:';
  const port = Number(url.port) || (secure ? 443 : 80);
  const range = source ? sourcePortRange() : null;
  const ports = new SourcePorts(range ? sliceOf(range, thread, threads) : null);
  const secureContext = secure ? tls.createSecureContext(ca ? { ca } : {}) : undefined;
  const request = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: `;
  const keys = Buffer.alloc(16);
  // FIN + close, masked, 2-byte payload 1000 under a zero mask.
  const CLOSE_1000 = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
  const end = performance.now() + seconds * 1000;
  /** @type {ThreadResult} */
  const out = { completed: 0, failed: 0, handshakes: [], tcps: [], tlss: [] };
  let running = concurrency;

  const loop = () => {
    if (performance.now() >= end) {
      if (--running === 0) parent.postMessage(out);
      return;
    }
    const started = performance.now();
    let tcpAt = 0;
    let upgraded = false;
    let ended = false;
    const opts = { host: url.hostname, port, localAddress: source, localPort: source ? ports.next(source) || undefined : undefined };
    const socket = secure ? tls.connect({ ...opts, secureContext, rejectUnauthorized: true }) : net.connect(opts);
    const sendRequest = () => socket.write(`${request}${randomFillSync(keys).toString('base64')}\r\n\r\n`, 'latin1');
    socket.setNoDelay(true);
    socket.setTimeout(10_000, () => socket.destroy());
    socket.once('connect', () => {
      tcpAt = performance.now();
      if (!secure) sendRequest();
    });
    if (secure) {
      socket.once('secureConnect', () => {
        out.tlss.push(performance.now() - tcpAt);
        sendRequest();
      });
    }
    socket.once('data', (/** @type {Buffer} */ d) => {
      // "HTTP/1.1 101": anything else (a 4xx/5xx) ends this one as failed.
      if (d.length < 12 || d[9] !== 0x31 || d[10] !== 0x30 || d[11] !== 0x31) return void socket.destroy();
      upgraded = true;
      out.handshakes.push(performance.now() - started);
      out.tcps.push(tcpAt - started);
      socket.write(CLOSE_1000);
    });
    socket.once('end', () => {
      ended = true;
    });
    socket.on('error', () => {}); // counted as failed by its close
    socket.once('close', () => {
      if (upgraded && ended) out.completed++;
      else out.failed++;
      loop();
    });
  };
  for (let i = 0; i < concurrency; i++) loop();
}
