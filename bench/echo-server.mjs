// The benchmark's target: a minimal ws server in its own process, so it is never the bottleneck
// of the client under test. Optional --delay-101 MS holds each upgrade that long.
import http from 'node:http';
import { WebSocketServer } from 'ws';

const delayArg = process.argv.indexOf('--delay-101');
const delay = delayArg > 0 ? Number(process.argv[delayArg + 1]) : 0;
const server = http.createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
server.on('upgrade', (req, socket, head) => {
  const go = () => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m) => ws.send(m)));
  if (delay > 0) setTimeout(go, delay);
  else go();
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
// Bounded: never outlives a forgotten benchmark.
setTimeout(() => process.exit(0), 30 * 60 * 1000).unref();
