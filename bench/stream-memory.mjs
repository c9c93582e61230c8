// What a socket costs in memory with a message stream and without: one wsrace run in a fresh
// process (so no earlier run's heap is in its baseline) opens SOCKETS sockets against URL, holds
// them, with `stream: { every: EVERY }` unless EVERY is `off`, and samples the process's RSS once
// a second; after SAMPLES samples with every socket open it stops the run. Prints
// {"held":…, "opened":…, "failed":{…}, "rssBeforeMiB":…, "rssPeakMiB":…, "rssSettledMiB":…, "rssBeforeBytes":…, "rssSettledBytes":…, "bytesPerSocket":…, "sent":…, "outstandingAtEnd":…}:
// bytesPerSocket is (peak − before) / held, the peak taken while every socket was open;
// rssSettledMiB is the median of the samples after the first half (the opening's garbage
// collected, or not, as V8 decides: an idle worker gives it back within a second or two, one that
// keeps streaming holds it until a full collection). When not every socket opened, held is 0
// and bytesPerSocket null.
// Usage: node bench/stream-memory.mjs URL SOCKETS EVERY|off SOURCES [SAMPLES]
// (SOURCES: source addresses separated by commas; EVERY: a duration such as 1s.)
import os from 'node:os';
import { rmSync } from 'node:fs';
import { parseScenarioText } from '../dist/scenario/load.js';
import { runScenario } from '../dist/run/run.js';

const [url, sockets, every, sources, samplesWanted] = [process.argv[2], Number(process.argv[3]), process.argv[4], process.argv[5].split(','), Number(process.argv[6] ?? 3)];
/** Sockets opened per second: 19,000 sockets held are opened at 2,000/s by the concurrency row. */
const RATE = 2500;
const stream = every === 'off' ? '' : `  stream: { every: ${every} }\n`;
const text = `name: stream-memory\ntarget:\n  url: ${url}\n  handshakeTimeout: 20s\n  localAddresses: ${JSON.stringify(sources)}\nload:\n  stages: [{ duration: ${Math.ceil(sockets / RATE)}s, rate: ${RATE} }]\n  maxConnections: ${sockets}\nsession:\n  hold: 600s\n${stream}drainTimeout: 10s\n`;
const outDir = `${os.tmpdir()}/wsrace-bench-memory-${process.pid}`;
const before = process.memoryUsage().rss;
let peak = 0;
/** @type {number[]} RSS samples (bytes) with every socket open. */
const full = [];
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
    peak = Math.max(peak, rss);
    full.push(rss);
    if (full.length >= samplesWanted) controller.abort('bench');
  },
});
clearTimeout(giveUp);
rmSync(outDir, { recursive: true, force: true });
const held = full.length > 0 ? sockets : 0;
const settled = full.slice(Math.floor(full.length / 2)).sort((a, b) => a - b);
const rssSettled = settled.length ? settled[Math.floor(settled.length / 2)] : 0;
const m = summary.messages;
const failed = Object.fromEntries(Object.entries(summary.totals.errors).filter(([, n]) => n > 0));
process.stdout.write(JSON.stringify({ held, opened: summary.totals.opened, failed, rssBeforeMiB: +(before / 2 ** 20).toFixed(1), rssPeakMiB: +(peak / 2 ** 20).toFixed(1), rssSettledMiB: +(rssSettled / 2 ** 20).toFixed(1), rssBeforeBytes: before, rssSettledBytes: rssSettled, bytesPerSocket: held ? Math.round((peak - before) / held) : null, sent: m?.sent ?? 0, outstandingAtEnd: m ? m.lost : 0 }) + '\n');
process.exit(0);
