// A plain `ws` client in its own thread, as wsrace's worker is: `sockets` sockets to `url`, each
// sending `{"type":"ping","seq":k,"conn":"p<i>"}` at open and every `everyMs` until it has sent
// `count`, timing each reply with performance.now(). It posts `{ rtts: { "p<i>:<seq>": ms } }`
// once every reply is in, or what it has after `timeoutMs` (bounded). Tests run it beside a wsrace
// run against the same server: what a client with no recording of its own measures on this
// machine at that moment.
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

const { url, sockets, everyMs, count, timeoutMs } = workerData;
const rtts = {};
let pending = sockets * count;
const finish = () => {
  clearTimeout(deadline);
  parentPort.postMessage({ rtts });
  process.exit(0);
};
const deadline = setTimeout(finish, timeoutMs);

for (let i = 0; i < sockets; i++) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const sentAt = new Map();
  let seq = 0;
  let timer = null;
  const send = () => {
    seq++;
    sentAt.set(seq, performance.now());
    ws.send(`{"type":"ping","seq":${seq},"conn":"p${i}"}`);
    if (seq === count) clearInterval(timer);
  };
  ws.on('open', () => {
    send();
    timer = setInterval(send, everyMs);
  });
  ws.on('message', (data) => {
    const at = performance.now();
    const { seq: k } = JSON.parse(data.toString());
    rtts[`p${i}:${k}`] = at - sentAt.get(k);
    if (--pending === 0) finish();
  });
  ws.on('error', () => undefined);
}
