// The box's own limit for open+close (BENCH_ONLY=raw, and the TLS part's raw floor): the raw
// client (bench/raw-client.mjs) on every thread count from 1 to the cores × a few
// concurrencies, the best kept; then, in the same repeat, wsrace's climb up fractions of it.
// wsrace's on-schedule rate as a share of it is the number (goal ≥ 0.7). run.mjs lends its
// server, floor and climb (the Kit below) so the on-schedule rule stays the one it has.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/** @typedef {import('./run.mjs').EchoServer} EchoServer */
/** @typedef {import('../dist/report/summary.js').Summary} Summary */
/**
 * What run.mjs lends the parts in this file and tls-bench.mjs.
 * @typedef {object} Kit
 * @property {(url: string, seconds: number, concurrency: number, ca?: string) => number} floor the plain ws loop's open+close/s (bench/floor-client.mjs)
 * @property {(server: EchoServer, base: number, r: number, fractions: readonly number[]) => Promise<{ best: number, inFlight: number, top: Summary | null }>} climb wsrace's ladder of fractions of `base`, judged on schedule as in the connection-rate row
 * @property {(url: string, run: { rate: number, seconds: number, ca?: string }) => Promise<unknown>} wsrace one wsrace run (a warm-up)
 * @property {() => string} freshSource a source address no recent run used
 * @property {(...a: unknown[]) => void} log
 * @property {<T extends number | null>(xs: readonly T[]) => T} median
 * @property {number} repeats
 * @property {number} seconds
 * @property {boolean} quick
 */

/**
 * What bench/raw-client.mjs prints.
 * @typedef {{ completed: number, failed: number, perSecond: number, threads: number, concurrency: number, handshakeP50Ms: number | null, tcpP50Ms: number | null, tlsP50Ms: number | null }} RawRun
 */

/**
 * @param {string} url
 * @param {number} seconds
 * @param {number} threads
 * @param {number} concurrency
 * @param {string} source
 * @param {string} [ca] a PEM file to trust (wss://)
 * @returns {RawRun}
 */
export function rawRun(url, seconds, threads, concurrency, source, ca = '') {
  const script = fileURLToPath(new URL('./raw-client.mjs', import.meta.url));
  return JSON.parse(String(execFileSync(process.execPath, [script, url, String(seconds), String(threads), String(concurrency), source, ca], { timeout: (seconds + 40) * 1000 })));
}

/**
 * The raw floor's top rate now: every thread count 1..cores × `concurrencies`, the best kept.
 * More threads than cores only share them, so the search stops at the cores.
 * @param {string} url
 * @param {Kit} kit
 * @param {readonly number[]} concurrencies
 * @param {string} [ca]
 */
export function rawTop(url, kit, concurrencies, ca) {
  /** @type {RawRun[]} */
  const tried = [];
  for (let threads = 1; threads <= Math.min(8, os.availableParallelism()); threads++) {
    for (const c of concurrencies) tried.push(rawRun(url, kit.seconds, threads, c, kit.freshSource(), ca));
  }
  const best = tried.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  kit.log(`raw floor: ${tried.map((t) => `${t.threads}×${t.concurrency} ${t.perSecond}/s${t.failed ? ` (${t.failed} failed)` : ''}`).join(', ')} → best ${best.perSecond}/s (${best.threads} threads × ${best.concurrency})`);
  return { ...best, tried: tried.map((t) => ({ threads: t.threads, concurrency: t.concurrency, perSecond: t.perSecond, failed: t.failed })) };
}
/** @typedef {ReturnType<typeof rawTop>} RawTop */

/**
 * BENCH_ONLY=raw: each repeat measures the ws floor (the connection-rate row's), the raw floor's
 * top, then climbs wsrace up fractions of the raw floor, so the share sees one machine minute.
 * The quick ladder is finer than the connection-rate row's quick one (which stops at 0.6× and
 * would cap the share) and does not bisect; the full one bisects twice.
 * @param {EchoServer} server
 * @param {Kit} kit
 */
export async function measureRawFloor(server, kit) {
  const concurrencies = kit.quick ? [16, 64, 128] : [8, 16, 32, 64, 128];
  const wsConcurrencies = kit.quick ? [16] : [8, 16, 32, 64];
  const fractions = kit.quick ? [0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.1, 1.2] : [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25];
  // Warm up each side once (the server's JIT too).
  kit.floor(server.url, 1, 16);
  rawRun(server.url, 1, 1, 16, kit.freshSource());
  await kit.wsrace(server.url, { rate: 500, seconds: 1 });
  const runs = [];
  for (let r = 0; r < kit.repeats; r++) {
    const floorNow = Math.round(Math.max(...wsConcurrencies.map((c) => kit.floor(server.url, kit.seconds, c))));
    const raw = rawTop(server.url, kit, concurrencies);
    kit.log(`raw run ${r + 1}: ws floor ${floorNow}/s, raw floor ${raw.perSecond}/s`);
    const { best, top } = await kit.climb(server, raw.perSecond, r, fractions);
    runs.push({ floor: floorNow, raw: raw.perSecond, rawThreads: raw.threads, rawConcurrency: raw.concurrency, rawTried: raw.tried, wsrace: best, share: raw.perSecond > 0 ? +(best / raw.perSecond).toFixed(3) : null, loopDelayP99Ms: top?.loopDelayMs.p99 ?? null });
  }
  const result = {
    onSchedule: 'all attempts closed 1000 and schedule lag p99 ≤ 10 ms after the first second (as the connection-rate row)',
    rawClient: 'bench/raw-client.mjs: dial, upgrade request at connect, wait for the 101, close frame 1000, wait for the server to end; threads 1..cores × concurrencies, best kept',
    fractions,
    rawFloorPerSecond: kit.median(runs.map((x) => x.raw)),
    floorPerSecond: kit.median(runs.map((x) => x.floor)),
    wsraceOnSchedulePerSecond: kit.median(runs.map((x) => x.wsrace)),
    share: kit.median(runs.map((x) => x.share)),
    runs,
    goal: 0.7,
  };
  kit.log(`raw floor: ${result.rawFloorPerSecond}/s (runs ${runs.map((x) => x.raw).join(' / ')}), wsrace ${result.wsraceOnSchedulePerSecond}/s on schedule (runs ${runs.map((x) => x.wsrace).join(' / ')}), share ${result.share} (runs ${runs.map((x) => x.share).join(' / ')})`);
  return result;
}
/** @typedef {Awaited<ReturnType<typeof measureRawFloor>>} RawFloorResult */

/**
 * The table's row.
 * @param {RawFloorResult} x
 * @returns {string[][]}
 */
export function rawFloorRows(x) {
  const best = x.runs.find((r) => r.raw === x.rawFloorPerSecond) ?? x.runs[0];
  return [['raw floor (open+close/s)', `raw ${x.rawFloorPerSecond}`, `wsrace ${x.wsraceOnSchedulePerSecond} on schedule`, `${x.share}× the raw floor (goal ≥ 0.7); raw best at ${best?.rawThreads} threads × ${best?.rawConcurrency}; ws floor ${x.floorPerSecond}`]];
}
