// The benchmark's target: a minimal ws server in its own process, so it is never the bottleneck
// of the client under test. Optional --delay-101 MS holds each upgrade that long; a timer fires
// late by up to a millisecond, so the server measures each hold, and GET /holds answers (and
// resets) their median and count: the delay the client's handshake really contains.
// Optional --tls DIR serves wss:// with DIR/key.pem and DIR/cert.pem (bench/probe-wss.mjs).
// A stream's ping, `{"type":"ping","seq":N,...}`, is answered `{"type":"pong","seq":N}` (what
// wsrace's default stream reply expects); any other message is echoed back as it came.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { WebSocketServer } from 'ws';

const delayArg = process.argv.indexOf('--delay-101');
const delay = delayArg > 0 ? Number(process.argv[delayArg + 1]) : 0;
/** @type {number[]} */
let holds = [];
const tlsArg = process.argv.indexOf('--tls');
const tls = tlsArg > 0 ? { key: readFileSync(`${process.argv[tlsArg + 1]}/key.pem`), cert: readFileSync(`${process.argv[tlsArg + 1]}/cert.pem`) } : null;
/** @type {http.RequestListener} */
const answer = (req, res) => {
  if (req.url === '/holds') {
    holds.sort((a, b) => a - b);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: holds.length, p50: holds.length ? holds[Math.floor(holds.length / 2)] : null }));
    holds = [];
    return;
  }
  res.writeHead(404).end();
};
/** @type {http.Server} */
const server = tls ? https.createServer(tls, answer) : http.createServer({}, answer);
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
const PING = '{"type":"ping","seq":';
/**
 * A ping's pong, read by string search rather than JSON.parse: the server shares the machine
 * with the client under test, so it does as little as it can.
 * @param {import('ws').WebSocket} ws
 * @param {import('ws').RawData} data
 * @param {boolean} isBinary
 */
function answerMessage(ws, data, isBinary) {
  const text = isBinary ? '' : String(data);
  if (text.startsWith(PING)) {
    let end = PING.length;
    while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
    if (end > PING.length) return ws.send(`{"type":"pong","seq":${text.slice(PING.length, end)}}`);
  }
  ws.send(data);
}
server.on('upgrade', (req, socket, head) => {
  const go = () => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m, isBinary) => answerMessage(ws, m, isBinary)));
  if (delay > 0) {
    const held = performance.now();
    setTimeout(() => {
      holds.push(performance.now() - held);
      go();
    }, delay);
  } else go();
});
// A deep accept queue: a burst must not lose SYNs to the default backlog of 511.
server.listen(0, '127.0.0.1', 4096, () => process.stdout.write(`${/** @type {import('node:net').AddressInfo} */ (server.address()).port}\n`));
process.on('SIGTERM', () => process.exit(0));
// Bounded: never outlives a forgotten benchmark.
setTimeout(() => process.exit(0), 30 * 60 * 1000).unref();
