// The message-rate floor: the simplest `ws` client loop sending and receiving the messages a
// wsrace stream does. Opens SOCKETS sockets (split over THREADS worker threads, like wsrace's
// workers), then each sends `{"type":"ping","seq":N,"sentAt":T}` every EVERY ms from its own
// setInterval (started at a spread of phases, as sockets opened over time would be) and matches
// each reply's seq against the next it expects. No schedule keeping, no histograms: when its
// thread is busy, setInterval simply fires late and fewer messages go out. After SECONDS it stops
// sending, waits up to 2 s for the replies still due, and prints what it sent and got back:
// {"sockets":…, "opened":…, "sent":…, "replied":…, "mismatched":…, "seconds":…, "perSecond":…,
// "sendPerSecond":…, "rttP50Ms":…, "rttP99Ms":…, "timerLateP50Ms":…, "timerLateP99Ms":…, "cpuS":…, "streamCpuUsPerMessage":…}; perSecond
// is round trips per second, cpuS the process's CPU seconds (all its threads, start-up and
// opening included), streamCpuUsPerMessage its CPU per message sent while every socket streamed.
// timerLate* is how late each ping's timer fired after the turn setInterval had set for it: the
// floor's counterpart of wsrace's send lag (its interval restarts from each late turn, so it
// drifts instead of catching up; lateness against its own turn is the fair comparison).
// Usage: node bench/stream-floor.mjs URL SOCKETS EVERY_MS SECONDS THREADS [SOURCE]
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import WebSocket from 'ws';
import { SourcePorts, sourcePortRange } from '../dist/engine/source-ports.js';

/** How long the loop waits, after it stops sending, for the replies still due. */
const REPLY_GRACE_MS = 2000;
/** How long the sockets may take to open. */
const OPEN_TIMEOUT_MS = 20_000;

/**
 * What each thread reports.
 * @typedef {{ opened: number, sent: number, replied: number, mismatched: number, streamMs: number, rtts: Float64Array, lates: Float64Array, window: { cpuUs: number, sent: number } }} ThreadResult
 */

if (isMainThread) {
  const [url, sockets, everyMs, seconds, threads, source] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6] ?? 1), process.argv[7]];
  /** @type {ThreadResult[]} */
  const results = [];
  for (let t = 0; t < threads; t++) {
    const share = Math.floor(sockets / threads) + (t < sockets % threads ? 1 : 0);
    const w = new Worker(new URL(import.meta.url), { workerData: { url, sockets: share, everyMs, seconds, source } });
    w.on('error', (err) => {
      process.stderr.write(`stream floor: ${err.stack ?? err}\n`);
      process.exit(1);
    });
    w.on('message', (/** @type {ThreadResult} */ r) => {
      results.push(r);
      if (results.length < threads) return;
      const sum = (/** @type {(r: ThreadResult) => number} */ f) => results.reduce((a, r) => a + f(r), 0);
      const rtts = Float64Array.from(results.flatMap((r) => [...r.rtts])).sort();
      const lates = Float64Array.from(results.flatMap((r) => [...r.lates])).sort();
      /** @param {number} q @param {Float64Array} xs */
      const at = (q, xs = rtts) => (xs.length ? +xs[Math.min(xs.length - 1, Math.floor(q * xs.length))].toFixed(3) : null);
      const streamS = Math.max(...results.map((r) => r.streamMs)) / 1000;
      const out = { sockets, opened: sum((r) => r.opened), sent: sum((r) => r.sent), replied: sum((r) => r.replied), mismatched: sum((r) => r.mismatched), seconds: +streamS.toFixed(3), perSecond: Math.round(sum((r) => r.replied) / streamS), sendPerSecond: Math.round(sum((r) => r.sent) / streamS), rttP50Ms: at(0.5), rttP99Ms: at(0.99), timerLateP50Ms: at(0.5, lates), timerLateP99Ms: at(0.99, lates), cpuS: +((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(2), streamCpuUsPerMessage: +(results[0].window.cpuUs / Math.max(1, sum((r) => r.window.sent))).toFixed(1) };
      process.stdout.write(JSON.stringify(out) + '\n');
      process.exit(0);
    });
  }
} else {
  /** @type {{ url: string, sockets: number, everyMs: number, seconds: number, source: string | undefined }} */
  const { url, sockets, everyMs, seconds, source } = workerData;
  const parent = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
  const ports = new SourcePorts(source ? sourcePortRange() : null);
  const t0 = performance.now();
  // Every send's time, to time its reply: at most every socket's sends over the run, plus slack.
  const rtts = new Float64Array(Math.ceil(sockets * ((seconds * 1000) / everyMs + 2)));
  let rttCount = 0;
  const lates = new Float64Array(rtts.length);
  let lateCount = 0;
  let sent = 0;
  let replied = 0;
  let mismatched = 0;
  let opened = 0;
  let sending = true;
  /** @type {{ ws: WebSocket, seq: number, expect: number, sentAt: number[], timer: NodeJS.Timeout | null, nextAt: number }[]} */
  const conns = [];
  const report = (/** @type {number} */ streamMs) => {
    for (const c of conns) c.ws.terminate();
    parent.postMessage({ opened, sent, replied, mismatched, streamMs, rtts: rtts.slice(0, rttCount), lates: lates.slice(0, lateCount), window });
  };
  /** The process's CPU over the streaming window (once every socket's setInterval runs), for bench/probe-messages.mjs. */
  const window = { cpuUs: 0, sent: 0 };
  const cpuUs = () => process.cpuUsage().user + process.cpuUsage().system;
  const startStreams = () => {
    const streamStart = performance.now();
    setTimeout(() => Object.assign(window, { cpuUs: cpuUs(), sent }), everyMs);
    conns.forEach((c, k) => {
      const ping = () => {
        if (!sending) return;
        c.seq++;
        const t = performance.now();
        // How late this timer fired: setInterval counts its next turn from when this one ran.
        if (lateCount < lates.length) lates[lateCount++] = Math.max(0, t - c.nextAt);
        c.nextAt = t + everyMs;
        c.sentAt.push(t);
        sent++;
        c.ws.send(`{"type":"ping","seq":${c.seq},"sentAt":${Math.round((t - t0) * 1000) / 1000}}`);
      };
      c.nextAt = streamStart + (k / conns.length) * everyMs;
      setTimeout(() => {
        ping();
        c.timer = setInterval(ping, everyMs);
      }, (k / conns.length) * everyMs);
    });
    setTimeout(() => {
      sending = false;
      const streamMs = performance.now() - streamStart;
      Object.assign(window, { cpuUs: cpuUs() - window.cpuUs, sent: sent - window.sent });
      for (const c of conns) if (c.timer) clearInterval(c.timer);
      const graceEnd = performance.now() + REPLY_GRACE_MS;
      const waitReplies = () => {
        if (replied + mismatched >= sent || performance.now() >= graceEnd) report(streamMs);
        else setTimeout(waitReplies, 10);
      };
      waitReplies();
    }, seconds * 1000);
  };
  const openTimer = setTimeout(() => report(0), OPEN_TIMEOUT_MS);
  for (let k = 0; k < sockets; k++) {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...(source ? { localAddress: source, localPort: ports.next(source) || undefined } : {}) });
    const c = { ws, seq: 0, expect: 1, sentAt: /** @type {number[]} */ ([]), timer: /** @type {NodeJS.Timeout | null} */ (null), nextAt: 0 };
    conns.push(c);
    ws.on('open', () => {
      if (++opened === sockets) {
        clearTimeout(openTimer);
        startStreams();
      }
    });
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data));
      if (msg.type === 'pong' && msg.seq === c.expect) {
        c.expect++;
        replied++;
        if (rttCount < rtts.length) rtts[rttCount++] = performance.now() - /** @type {number} */ (c.sentAt.shift());
      } else mismatched++;
    });
    ws.on('error', () => undefined);
  }
}
