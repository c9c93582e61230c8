// The overhead floor: the least a client can add to a handshake's latency on this machine. It
// dials the way wsrace does (a TCP socket from a source address and a port it names, the upgrade
// request written at connect) and stops the clock at the first byte of the response: no
// parsing, no WebSocket, no recording. It starts sockets RATE/s on time and, like wsrace's
// worker, keeps its thread awake (setImmediate) so the response is read when it arrives. What it
// measures over the server's delay is the kernel, the server and the VM; what wsrace measures
// over it is that plus wsrace.
//
//   node bench/raw-handshake.mjs URL RATE SECONDS SOURCE [WARM_SECONDS]
// prints { count, p50Ms } of dial → first response byte, for the sockets after the warm-up.
import net from 'node:net';
import { randomFillSync } from 'node:crypto';
import { SourcePorts, sourcePortRange } from '../dist/engine/source-ports.js';

const [url, rate, seconds, source, warmSeconds] = [new URL(process.argv[2]), Number(process.argv[3]), Number(process.argv[4]), process.argv[5], Number(process.argv[6] ?? 1)];
const request = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: `;
const keys = Buffer.alloc(16);
const total = Math.round(rate * (warmSeconds + seconds));
const warm = Math.round(rate * warmSeconds);
/** @type {number[]} */
const latencies = [];
const ports = new SourcePorts(source ? sourcePortRange() : null);
let finished = 0;

/** @param {boolean} record time this one (the warm-up's are not) */
function dial(record) {
  const started = performance.now();
  const socket = net.connect({ host: url.hostname, port: Number(url.port), localAddress: source, localPort: ports.next(source) || undefined });
  socket.setNoDelay(true);
  socket.once('connect', () => socket.write(`${request}${randomFillSync(keys).toString('base64')}\r\n\r\n`, 'latin1'));
  socket.once('data', () => {
    if (record) latencies.push(performance.now() - started);
    socket.destroy();
  });
  socket.once('close', () => {
    if (++finished === total) done();
  });
  socket.on('error', () => {}); // counted by its close; the floor only times answers
}

function done() {
  latencies.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ count: latencies.length, p50Ms: latencies.length ? latencies[latencies.length >> 1] : null })}\n`);
  process.exit(0);
}

// One start per due time, spun on setImmediate (bounded: the schedule ends, and so does the spin).
const t0 = performance.now() + 50;
let next = 0;
function tick() {
  const t = performance.now();
  while (next < total && t0 + (next * 1000) / rate <= t) dial(next++ >= warm);
  if (next < total || finished < total) setImmediate(tick);
}
setImmediate(tick);
setTimeout(() => done(), (warmSeconds + seconds + 30) * 1000).unref();
