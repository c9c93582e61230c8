// npm run bench:guards (and first in npm run bench): checks that the engine's performance tricks
// still hold on this Node, V8 and ws. They read internals (hidden classes, element kinds, Node's
// source, how often ws calls end()), so they guard speed, not behaviour, and live here rather than
// in npm test. Each prints ok or FAILED with what changed; any failure exits 1. Imports dist/
// (npm run bench:guards builds first). Traffic goes to 127.0.0.1 only; every wait is bounded.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { connectQuietly, quietReceiverEnds } from '../dist/engine/quiet-end.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Node 20 (V8 11.3) is where the tricks were measured, and what CI runs; other versions may differ. */
const NODE20 = process.versions.node.startsWith('20.');
const dist = (/** @type {string} */ path) => pathToFileURL(`${ROOT}dist/${path}`).href;
const timeout = () => ({ signal: AbortSignal.timeout(5000) });

class GuardFailure extends Error {}

/** @param {boolean} ok @param {string} why */
function check(ok, why) {
  if (!ok) throw new GuardFailure(why);
}

/** Runs `code` as an ES module in a fresh Node with V8's natives syntax; returns its stdout, parsed. */
function natives(/** @type {string} */ code) {
  return JSON.parse(execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 }));
}

/** Node 20's net.Socket constructor, on its own options: the copy and the four stores socketOptions() anticipates. */
const NODE_COPY_AND_STORES = [
  'options = { ...options };',
  'options.allowHalfOpen = Boolean(options.allowHalfOpen);',
  'options.emitClose = false;',
  'options.autoDestroy = true;',
  'options.decodeStrings = false;',
];

/** socket-options.ts: net.Socket's constructor still copies its options and stores the four fields socketOptions() sets first. */
function netSocketCopiesAsAnticipated() {
  if (!NODE20) return `skipped: Node ${process.versions.node} (the source read is Node 20's)`;
  const source = net.Socket.toString();
  for (const line of NODE_COPY_AND_STORES) check(source.includes(line), `net.Socket no longer contains "${line}": see socket-options.ts`);
  return 'ok';
}

/** socket-options.ts: one hidden class through net.Socket's copy and stores, socket after socket. */
function socketOptionsKeepOneMap() {
  // The same steps as net.Socket, on 300 options shaped like dial()'s with changing values: how often a
  // copy's map differs from the previous copy's (the first 20 may still settle field representations).
  const { withSocketOptions, plain } = natives(`
    import { socketOptions } from '${dist('engine/socket-options.js')}';
    const copy = (o) => { const c = { ...o }; c.allowHalfOpen = Boolean(c.allowHalfOpen); c.emitClose = false; c.autoDestroy = true; c.decodeStrings = false; return c; };
    const dial = (i) => { const o = { host: '127.0.0.1', port: 9 }; o.localAddress = '127.0.0.' + (2 + (i % 3)); o.localPort = 40000 + i; o.path = undefined; return o; };
    const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)');
    const count = (make) => {
      let previous = null, differ = 0;
      for (let i = 0; i < 300; i++) {
        const c = copy(make(dial(i)));
        if (i > 20 && !sameMap(previous, c)) differ++;
        previous = c;
      }
      return differ;
    };
    process.stdout.write(JSON.stringify({ withSocketOptions: count(socketOptions), plain: count((o) => o) }));
  `);
  check(withSocketOptions === 0, `${withSocketOptions} of 279 copies made from socketOptions() changed map (expected 0)`);
  // Why it matters: without it, nearly every socket's copy has a map of its own (V8 11.3, Node 20).
  if (NODE20) check(plain > 200, `only ${plain} of 279 plain copies changed map: this V8 keeps one map for plain options too, and socketOptions() may no longer be needed`);
  return `ok (plain options: ${plain} of 279 copies changed map)`;
}

/** deadlines.ts: every queue starts with the element kinds it will hold, before its first push. */
function deadlineQueuesKeepElementKinds() {
  // Several queues, as a worker makes three per run (the rehearsal's, then the run's): each one's
  // arrays, fresh and then after pushes, are objects and unboxed doubles, so their maps never change.
  const kinds = natives(`
    import { DeadlineQueue } from '${dist('engine/deadlines.js')}';
    const kinds = (q) => [%HasObjectElements(q.items), %HasDoubleElements(q.dues)];
    const out = [];
    for (let n = 0; n < 4; n++) {
      const q = new DeadlineQueue(() => {});
      out.push(kinds(q));
      q.push({}, Date.now() + 0.5);
      out.push(kinds(q));
    }
    process.stdout.write(JSON.stringify(out));
  `);
  check(JSON.stringify(kinds) === JSON.stringify(Array(8).fill([true, true])), `[objects, doubles] per queue, fresh then pushed: ${JSON.stringify(kinds)}`);
  return 'ok';
}

/** end() calls with no arguments on a stream that has ended and finished (or been destroyed): the ones Node answers by building an error. */
function countMootEnds() {
  const counts = { receiver: 0, socket: 0 };
  const moot = (/** @type {Writable} */ s) => s.writableEnded && (s.writableFinished || s.destroyed);
  const writableEnd = Writable.prototype.end;
  const socketEnd = net.Socket.prototype.end;
  Writable.prototype.end = /** @type {any} */ (
    function (/** @type {any[]} */ ...args) {
      if (args.length === 0 && moot(this)) counts.receiver++;
      return /** @type {any} */ (writableEnd).apply(this, args);
    }
  );
  net.Socket.prototype.end = /** @type {any} */ (
    function (/** @type {any[]} */ ...args) {
      if (args.length === 0 && moot(this)) counts.socket++;
      return /** @type {any} */ (socketEnd).apply(this, args);
    }
  );
  const restore = () => {
    Writable.prototype.end = writableEnd;
    net.Socket.prototype.end = socketEnd;
  };
  return { counts, restore };
}

/**
 * `n` connections in turn through ws's client: open, close 1000, wait for ws's 'close' (after the socket's);
 * the counts of moot end() calls meanwhile, and the close codes.
 * @param {string} url @param {number} n @param {(o: net.NetConnectOpts) => net.Socket} createConnection
 */
async function mootEndsOver(url, n, createConnection) {
  const { counts, restore } = countMootEnds();
  const codes = [];
  try {
    for (let k = 0; k < n; k++) {
      const client = new WebSocket(url, { perMessageDeflate: false, createConnection: /** @type {any} */ (createConnection) });
      try {
        await once(client, 'open', timeout());
        client.close(1000);
        const [code] = await once(client, 'close', timeout());
        codes.push(code);
      } finally {
        client.terminate(); // a no-op once closed; cuts a client a failed wait left behind
      }
    }
  } finally {
    restore();
  }
  check(codes.every((c) => c === 1000) && codes.length === n, `close codes ${JSON.stringify(codes)}, expected ${n} × 1000`);
  return counts;
}

/**
 * quiet-end.ts: ws as shipped still makes the redundant end() calls it skips (two on the receiver per
 * socket, up to one on the socket), and with a QuietEndSocket and quiet receivers none reach Node's.
 * Against bench/echo-server.mjs in its own process, so only the client's receivers and sockets count.
 * @param {string} url
 */
async function quietEndsSkipWsRedundantEnds(url) {
  // First, before quietReceiverEnds() changes ws's Receiver for this process.
  const shipped = await mootEndsOver(url, 10, (o) => net.connect(o));
  check(shipped.receiver === 20, `ws as shipped: ${shipped.receiver} moot end() calls on 10 receivers (expected 20): ws changed, see quiet-end.ts`);
  check(shipped.socket <= 10, `ws as shipped: ${shipped.socket} moot end() calls on 10 sockets (expected ≤ 10)`);
  check(quietReceiverEnds(), 'quietReceiverEnds() found ws’s Receiver not as it assumes (not a Writable, or end() already replaced)');
  const quiet = await mootEndsOver(url, 10, connectQuietly);
  check(quiet.receiver === 0 && quiet.socket === 0, `quiet: ${JSON.stringify(quiet)} moot end() calls reached Node (expected none)`);
  return `ok (as shipped: ${shipped.receiver} on receivers, ${shipped.socket} on sockets; quiet: none)`;
}

/** bench/echo-server.mjs in its own process; resolves with its URL and a stop function. */
/** The most a socket's message stream may cost (issue 23): outstanding messages kept compactly, not as objects per message. */
const STREAM_BYTES_PER_SOCKET = 1024;

/** stream.ts, stream-ledger.ts: a socket's MessageStream with a full window outstanding costs ≤ 1 KiB. */
function streamCostsAtMostOneKiB() {
  // 10,000 streams as the example keeps them (every 250 ms, within 2 s), each with 9
  // messages sent and none answered (the most a 2 s window holds), on a fake socket: heap and
  // array buffers after a full GC, per stream. The attempts (owners) exist before, as in a run; a
  // first stream warms the shared histograms.
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', `
    import { MessageStream, compileStream } from '${dist('engine/stream.js')}';
    import { createHistogram } from '${dist('record/histogram.js')}';
    import { now } from '${dist('util/clock.js')}';
    const settings = { holdMs: 10_000, serverSeq: null, stream: { everyMs: 250, withinMs: 2000, send: '{"type":"ping","seq":\${seq},"sentAt":\${sentAt}}', match: '"type":"pong"', json: null, seq: 'seq' } };
    const host = { stream: compileStream(settings), t0: now(), histograms: { messageRtt: createHistogram(), messageSendLag: createHistogram() }, streamTimer() {}, messageEntry() {} };
    const ws = { readyState: 1, send() {} };
    const N = 10_000;
    const owners = Array.from({ length: N + 1 }, (_, i) => ({ rec: { i }, ctx: null, drained() {}, holdEndsAt: () => 0 }));
    const open = (owner) => {
      const s = new MessageStream(host, owner, ws);
      s.start(now());
      for (let m = 1; m < 9; m++) s.fire(s.due);
      return s;
    };
    open(owners[N]);
    const streams = new Array(N);
    const used = () => (globalThis.gc(), process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers);
    const before = used();
    for (let k = 0; k < N; k++) streams[k] = open(owners[k]);
    const bytes = (used() - before) / N;
    process.stdout.write(JSON.stringify({ bytes, sent: streams.reduce((n, s) => n + s.sent, 0) }));
  `], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  const { bytes, sent } = JSON.parse(out);
  check(sent === 90_000, `the streams sent ${sent} messages, expected 90,000: the guard no longer drives MessageStream as it is`);
  check(bytes <= STREAM_BYTES_PER_SOCKET, `a socket's stream with 9 messages outstanding costs ${bytes.toFixed(0)} B, over ${STREAM_BYTES_PER_SOCKET} B (issue 23): see stream-ledger.ts`);
  return `ok (${bytes.toFixed(0)} B per stream with 9 outstanding)`;
}

/** ws-events.ts: a WebSocket's listeners stay in fast properties; EventEmitter's own object is a dictionary. */
function webSocketEventsStayFast() {
  const { fixed, plain } = natives(`
    import { EventEmitter } from 'node:events';
    import { adoptableWebSocket } from '${dist('engine/handshake.js')}';
    const listen = (e) => { for (const name of ['open', 'message', 'pong', 'error', 'close']) e.on(name, () => {}); return e._events; };
    process.stdout.write(JSON.stringify({ fixed: %HasFastProperties(listen(adoptableWebSocket('', 1000))), plain: %HasFastProperties(listen(new EventEmitter())) }));
  `);
  check(fixed, 'a WebSocket made by adoptableWebSocket() keeps its listeners in dictionary mode: see ws-events.ts');
  // Why it matters: EventEmitter's own events object is a dictionary (V8 11.3, Node 20).
  if (NODE20) check(!plain, 'a plain EventEmitter keeps fast properties: this V8 no longer makes { __proto__: null } a dictionary, and ws-events.ts may no longer be needed');
  return 'ok';
}

async function startEchoServer() {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./echo-server.mjs', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [data] = await once(/** @type {import('node:stream').Readable} */ (child.stdout), 'data', { signal: AbortSignal.timeout(10_000) });
  return { url: `ws://127.0.0.1:${Number(String(data).trim())}/ws`, stop: () => child.kill('SIGTERM') };
}

async function main() {
  const server = await startEchoServer();
  /** @type {[string, () => string | Promise<string>][]} */
  const guards = [
    ['net.Socket copies its options as socket-options.ts anticipates', netSocketCopiesAsAnticipated],
    ['socketOptions() keeps one hidden class per socket', socketOptionsKeepOneMap],
    ['deadline queues start with the element kinds they hold', deadlineQueuesKeepElementKinds],
    ['quiet ends skip ws’s redundant end() calls', () => quietEndsSkipWsRedundantEnds(server.url)],
    ['a socket’s message stream costs at most 1 KiB', streamCostsAtMostOneKiB],
    ['a WebSocket’s listeners stay in fast properties', webSocketEventsStayFast],
  ];
  let failed = 0;
  try {
    for (const [name, guard] of guards) {
      try {
        process.stderr.write(`guard: ${name}: ${await guard()}\n`);
      } catch (err) {
        failed++;
        const why = err instanceof GuardFailure ? err.message : String(err instanceof Error ? err.stack : err);
        process.stderr.write(`guard: ${name}: FAILED: ${why}\n`);
      }
    }
  } finally {
    server.stop();
  }
  if (failed > 0) {
    process.stderr.write(`\n${failed} of ${guards.length} performance guards FAILED on Node ${process.versions.node}: a trick the engine relies on no longer holds (see the module named; docs/performance.md)\n`);
    process.exit(1);
  }
  process.stderr.write(`all ${guards.length} performance guards hold (Node ${process.versions.node})\n`);
}

await main();
