// What a socket costs in memory with a message stream and without: one wsrace run in a fresh
// process (so no earlier run's heap is in its baseline) opens SOCKETS sockets against URL, holds
// them, with `stream: { every: EVERY }` unless EVERY is `off`, and samples the process's RSS once
// a second; after SAMPLES samples with every socket open it stops the run. Prints
// {"held":…, "opened":…, "failed":{…}, "rssBeforeMiB":…, "rssPeakMiB":…, "rssSettledMiB":…, "rssAfterGcMiB":…, "rssBeforeBytes":…, "rssSettledBytes":…, "rssAfterGcBytes":…, "bytesPerSocket":…, "sent":…, "outstandingAtEnd":…}:
// bytesPerSocket is (peak − before) / held, the peak taken while every socket was open;
// rssSettledMiB is the median of the samples after the first half (the opening's garbage
// collected, or not, as V8 decides: an idle worker gives it back within a second or two, one that
// keeps streaming holds it until a full collection). Then a full collection in every thread (the
// inspector's HeapProfiler.collectGarbage, sent to the workers through its NodeWorker domain: no
// hook in wsrace) and 3 more samples, whose median is rssAfterGcMiB: what the sockets keep, the
// spaces V8 keeps committed beside it, without the garbage V8 had not collected yet. When not
// every socket opened, held is 0 and bytesPerSocket null.
// Usage: node [--max-semi-space-size=2] bench/stream-memory.mjs URL SOCKETS EVERY|off SOURCES [SAMPLES]
// (bench/run.mjs starts it with the flags `wsrace` starts node with: src/run/node-flags.ts.)
// (SOURCES: source addresses separated by commas; EVERY: a duration such as 1s.)
import os from 'node:os';
import { rmSync } from 'node:fs';
import inspector from 'node:inspector';
import { parseScenarioText } from '../dist/scenario/load.js';
import { runScenario } from '../dist/run/run.js';

const [url, sockets, every, sources, samplesWanted] = [process.argv[2], Number(process.argv[3]), process.argv[4], process.argv[5].split(','), Number(process.argv[6] ?? 3)];
/** Sockets opened per second: 19,000 sockets held are opened at 2,000/s by the concurrency row. */
const RATE = 2500;
const stream = every === 'off' ? '' : `  stream: { every: ${every} }\n`;
const text = `name: stream-memory\ntarget:\n  url: ${url}\n  handshakeTimeout: 20s\n  localAddresses: ${JSON.stringify(sources)}\nload:\n  stages: [{ duration: ${Math.ceil(sockets / RATE)}s, rate: ${RATE} }]\n  maxConnections: ${sockets}\nsession:\n  hold: 600s\n${stream}drainTimeout: 10s\n`;
const outDir = `${os.tmpdir()}/wsrace-bench-memory-${process.pid}`;

/**
 * A full garbage collection in this thread and in every worker thread, through the inspector:
 * enabling NodeWorker attaches a session to each running worker, which then takes
 * HeapProfiler.collectGarbage like the main thread. Bounded by a 10 s timeout.
 */
async function collectEverywhere() {
  const session = new inspector.Session();
  session.connect();
  /** @type {(method: string, params?: object) => Promise<unknown>} */
  const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));
  /** @type {string[]} */
  const workers = [];
  /** @type {Map<number, () => void>} */
  const waiting = new Map();
  session.on('NodeWorker.attachedToWorker', (m) => workers.push(m.params.sessionId));
  session.on('NodeWorker.receivedMessageFromWorker', (m) => {
    const id = JSON.parse(m.params.message).id;
    waiting.get(id)?.();
    waiting.delete(id);
  });
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer in 10 s')), 10_000)));
  try {
    await Promise.race([post('NodeWorker.enable', { waitForDebuggerOnStart: false }), timeout]);
    let id = 0;
    for (const sessionId of workers) {
      const answered = new Promise((resolve) => waiting.set(++id, () => resolve(undefined)));
      await post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }) });
      await Promise.race([answered, timeout]);
    }
    await post('HeapProfiler.collectGarbage');
  } finally {
    clearTimeout(timer);
    session.disconnect();
  }
  if (workers.length === 0) throw new Error('no worker thread to collect in');
}
const before = process.memoryUsage().rss;
let peak = 0;
/** @type {number[]} RSS samples (bytes) with every socket open. */
const full = [];
/** @type {number[]} The same after the full collection. */
const afterGc = [];
/** 0: sampling; 1: collecting; 2: sampling after it. */
let stage = 0;
const controller = new AbortController();
// Bounded: the run stops itself once every socket has been open for SAMPLES seconds; this is in case it never gets there.
const giveUp = setTimeout(() => controller.abort('bench: not every socket opened'), (Math.ceil(sockets / RATE) + 30) * 1000);
const { summary } = await runScenario(parseScenarioText(text, 'stream-memory.yaml'), {
  outDir,
  workers: Number(process.env.BENCH_WORKERS ?? Math.max(1, os.availableParallelism() - 1)),
  signal: controller.signal,
  onProgress: (p) => {
    if (p.openNow < sockets) return;
    const rss = process.memoryUsage().rss;
    if (stage === 0) {
      peak = Math.max(peak, rss);
      full.push(rss);
      if (full.length < samplesWanted) return;
      stage = 1;
      collectEverywhere().then(
        () => (stage = 2),
        (err) => controller.abort(`bench: the full collection failed (${err})`),
      );
    } else if (stage === 2 && afterGc.push(rss) >= 3) controller.abort('bench');
  },
});
clearTimeout(giveUp);
rmSync(outDir, { recursive: true, force: true });
const held = full.length > 0 ? sockets : 0;
const settled = full.slice(Math.floor(full.length / 2)).sort((a, b) => a - b);
const rssSettled = settled.length ? settled[Math.floor(settled.length / 2)] : 0;
const rssAfterGc = afterGc.length ? [...afterGc].sort((a, b) => a - b)[Math.floor(afterGc.length / 2)] : 0;
const m = summary.messages;
const failed = Object.fromEntries(Object.entries(summary.totals.errors).filter(([, n]) => n > 0));
process.stdout.write(JSON.stringify({ held, opened: summary.totals.opened, failed, rssBeforeMiB: +(before / 2 ** 20).toFixed(1), rssPeakMiB: +(peak / 2 ** 20).toFixed(1), rssSettledMiB: +(rssSettled / 2 ** 20).toFixed(1), rssAfterGcMiB: +(rssAfterGc / 2 ** 20).toFixed(1), rssBeforeBytes: before, rssSettledBytes: rssSettled, rssAfterGcBytes: rssAfterGc, bytesPerSocket: held ? Math.round((peak - before) / held) : null, sent: m?.sent ?? 0, outstandingAtEnd: m ? m.lost : 0 }) + '\n');
process.exit(0);
