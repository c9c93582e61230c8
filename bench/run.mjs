// npm run bench: wsrace against the raw limit of this machine. Not part of npm test.
// Every measurement is a ratio against the floor measured in the same run (shared machines are
// noisy), repeated REPEATS times, median reported. Traffic goes to 127.0.0.1 only; every loop is
// bounded in count and time. Writes bench/results.json and prints a table.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseScenarioText } from '../dist/scenario/load.js';
import { runScenario } from '../dist/run/run.js';
import { recorderNodeFlags } from '../dist/run/node-flags.js';
import { openFileLimit } from '../dist/run/preflight.js';
import { WORKER_NICE } from '../dist/engine/priority.js';
import { memoryOf, populationRun } from './population.mjs';
import { readHlog } from '../dist/report/hlog.js';
import { createHistogram, latencyStats } from '../dist/record/histogram.js';
import { artilleryTlsRunners, measurePeers, peerRows } from './peers.mjs';
import { measureRawFloor, rawFloorRows } from './raw-floor.mjs';
import { measureTls, tlsRows } from './tls-bench.mjs';

// The runs in this process are measured as `wsrace` starts node (bin/wsrace.js): with the
// recording process's flags. Started without them, the bench runs itself again with them, passes
// its signals on, and ends as that run ended.
const missingFlags = recorderNodeFlags().filter((f) => !process.execArgv.includes(f));
if (missingFlags.length > 0) {
  const again = spawn(process.execPath, [...missingFlags, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) process.on(sig, () => again.kill(sig));
  again.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
  await new Promise(() => {}); // the run started again ends this process
}

/** @typedef {import('../dist/report/summary.js').Summary} Summary */
/** @typedef {import('../dist/run/run.js').Progress} Progress */
/**
 * The bench's target (bench/echo-server.mjs) in its own process.
 * @typedef {{ url: string, holds: () => Promise<{ count: number, p50: number | null }>, stop: () => boolean, ca?: string }} EchoServer
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const WORKERS = Number(process.env.BENCH_WORKERS ?? Math.max(1, os.availableParallelism() - 1)); // wsrace's default
const QUICK = process.env.BENCH_QUICK === '1';
/** `BENCH_ONLY=messages`, `stream-memory`, `population`, `peers`, `raw` or `tls`: that part alone, its keys replacing those of bench/results.json (the rest stay as the last full run left them). */
const ONLY = process.env.BENCH_ONLY;
/** How long each run of the rate ladders and the lag rows lasts. */
const SECONDS = QUICK ? 2 : 4;
/**
 * The middle value (the upper one of an even count). A null, a run without that statistic, sorts
 * as 0, as the plain `a - b` here always sorted it.
 * @template {number | null} T
 * @param {readonly T[]} xs
 * @returns {T}
 */
const median = (xs) => [...xs].sort((a, b) => Number(a) - Number(b))[Math.floor(xs.length / 2)];
/** @param {...unknown} a */
const log = (...a) => process.stderr.write(a.join(' ') + '\n');
/** @param {string} file a script next to this one */
const benchScript = (file) => fileURLToPath(new URL(`./${file}`, import.meta.url));

/**
 * A statistic the bench computes with: a run that recorded none of it is a failed measurement,
 * not a number (null − 20 would be −20 ms).
 * @param {number | null} value
 * @param {string} what
 * @returns {number}
 */
function known(value, what) {
  if (value === null) throw new Error(`${what}: the run recorded no sample`);
  return value;
}

/**
 * @param {string[]} [args] the echo server's own flags
 * @returns {Promise<EchoServer>}
 */
function startServer(args = []) {
  const child = spawn(process.execPath, [benchScript('echo-server.mjs'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('echo server did not start')), 10_000);
    child.stdout.once('data', (d) => {
      clearTimeout(timer);
      const port = Number(String(d).trim());
      const holds = async () => (await fetch(`http://127.0.0.1:${port}/holds`)).json();
      // --tls DIR: wss://, its clients trusting DIR/cert.pem (holds() then does not answer: plain fetch).
      const tlsDir = args.includes('--tls') ? args[args.indexOf('--tls') + 1] : null;
      const base = { holds, stop: () => child.kill('SIGTERM') };
      resolve(tlsDir ? { ...base, url: `wss://127.0.0.1:${port}/ws`, ca: `${tlsDir}/cert.pem` } : { ...base, url: `ws://127.0.0.1:${port}/ws` });
    });
  });
}

/**
 * Every run, floor or wsrace, dials from a source address of its own (127.0.0.10 upward): a
 * 4-second run leaves up to ~16,000 ports in TIME_WAIT for 60 s, and runs that shared 127.0.0.1
 * would each start with less of the port range than the one before, where connect() slows down.
 */
let sourceNo = 10;
const freshSource = () => `127.0.0.${(sourceNo = sourceNo >= 250 ? 10 : sourceNo + 1)}`;

/**
 * What bench/floor-client.mjs prints.
 * @typedef {{ completed: number, perSecond: number, handshakeP50Ms: number | null }} FloorResult
 */
/**
 * @param {string} url
 * @param {number} seconds
 * @param {number} concurrency
 * @param {number} [warmMs]
 * @param {string} [ca] a PEM file the client trusts (wss://)
 * @returns {FloorResult}
 */
function floorRun(url, seconds, concurrency, warmMs = 0, ca = '') {
  const out = execFileSync(process.execPath, [benchScript('floor-client.mjs'), url, String(seconds), String(WORKERS), String(concurrency), freshSource(), String(warmMs), ca], { timeout: (seconds + 30) * 1000 });
  return JSON.parse(String(out));
}
/**
 * @param {string} url
 * @param {number} seconds
 * @param {number} concurrency
 */
const floor = (url, seconds, concurrency) => floorRun(url, seconds, concurrency).perSecond;

/**
 * The peer: Artillery 1.7.9's ws engine (open model, arrivalRate), run by bench/peer-artillery.cjs.
 * Not a dependency of wsrace: installed on first use into bench/.peer (git-ignored) from the npm
 * registry, or taken from BENCH_PEER (a node_modules/artillery folder). Without either, skipped.
 */
const PEER_VERSION = '1.7.9';
/** @returns {string | null} */
function peerDir() {
  if (process.env.BENCH_PEER) return existsSync(process.env.BENCH_PEER) ? process.env.BENCH_PEER : null;
  const prefix = fileURLToPath(new URL('./.peer', import.meta.url));
  const dir = `${prefix}/node_modules/artillery`;
  if (existsSync(`${dir}/package.json`)) return dir;
  log(`peer: installing artillery@${PEER_VERSION} into bench/.peer (once)`);
  try {
    execFileSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-save', `artillery@${PEER_VERSION}`], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
    return existsSync(`${dir}/package.json`) ? dir : null;
  } catch (err) {
    log(`peer: could not install artillery (${String(/** @type {Error} */ (err).message).split('\n')[0]}); the peer is skipped`);
    return null;
  }
}

/**
 * What bench/peer-artillery.cjs prints.
 * @typedef {{ scheduled: number, created: number, opened: number, errors: number, lagP50: number | null, lagP99: number | null, sustainedP99: number | null, lagMax: number | null, wallS: number }} PeerResult
 */
/**
 * The same on-schedule test as wsrace's: every socket created and opened, sustained lag p99 ≤ 10 ms.
 * A peer that crashes, hangs or prints nonsense is not wsrace's result: null, and the caller skips it.
 */
/** @type {{ rate: number, error: string }[]} */
const peerFailures = [];
/**
 * @param {string} dir
 * @param {string} url
 * @param {number} rate
 * @param {number} seconds
 * @returns {(PeerResult & { ok: boolean }) | null}
 */
function peerRun(dir, url, rate, seconds) {
  /** @type {PeerResult} */
  let r;
  try {
    const out = execFileSync(process.execPath, [benchScript('peer-artillery.cjs'), dir, url, String(rate), String(seconds), freshSource()], { timeout: (seconds * 3 + 30) * 1000, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 });
    r = JSON.parse(String(out));
    for (const k of /** @type {const} */ (['scheduled', 'created', 'opened', 'errors'])) if (typeof r?.[k] !== 'number') throw new Error(`its result has no number "${k}": ${String(out).slice(0, 200)}`);
  } catch (err) {
    // execFileSync's error carries the child's stderr; a parse or shape error has none.
    const { message, stderr: childErr } = /** @type {Error & { stderr?: Buffer }} */ (err);
    const stderr = String(childErr ?? '').trim().split('\n').slice(-3).join(' | ');
    const reason = `${String(message).split('\n')[0]}${stderr ? ` — ${stderr}` : ''}`;
    peerFailures.push({ rate, error: reason });
    log(`peer: the run at ${rate}/s failed (${reason}); the peer is skipped from here on`);
    return null;
  }
  return { ...r, ok: r.created >= r.scheduled && r.opened === r.created && r.errors === 0 && r.sustainedP99 !== null && r.sustainedP99 <= ON_SCHEDULE_LAG_P99_MS };
}

/**
 * wsrace's preflight sizes a run by peak rate × worst-case socket life (here the 5 s handshake
 * timeout), which at 150% of a ~2,700/s top rate passes the 20,000-descriptor limit: runs are
 * capped instead, and an attempt past the cap is dropped and counted (overload, reported). The
 * cap stays under this process's own limit (with room for the preflight's reserve) when
 * `ulimit -n` is lower.
 */
const DEFAULT_MAX_CONNECTIONS = Math.max(1, Math.min(15_000, (openFileLimit() ?? 20_000) - 1000));

/**
 * One wsrace run's settings; `signalWhen` stops the run (gracefully) at the first progress report it accepts.
 * @typedef {object} WsraceRun
 * @property {number} rate
 * @property {number} seconds
 * @property {string} [hold]
 * @property {number} [maxConnections]
 * @property {(p: Progress) => boolean} [signalWhen]
 * @property {string} [extra]
 * @property {string} [sources]
 * @property {string} [handshakeTimeout]
 * @property {string} [ca] a PEM file wsrace trusts (target.tls.ca, for wss://)
 */
/**
 * @param {string} url
 * @param {WsraceRun} run
 */
async function wsrace(url, { rate, seconds, hold = '0ms', maxConnections = DEFAULT_MAX_CONNECTIONS, signalWhen, extra = '', sources = freshSource(), handshakeTimeout = '5s', ca }) {
  const text = `name: bench\ntarget:\n  url: ${url}\n  handshakeTimeout: ${handshakeTimeout}\n${ca ? `  tls: { ca: ${JSON.stringify(ca)} }\n` : ''}  localAddresses: ["${sources}"]\nload:\n  stages: [{ duration: ${seconds}s, rate: ${rate} }]\n  maxConnections: ${maxConnections}\nsession:\n  hold: ${hold}\n${extra}drainTimeout: 10s\n`;
  const loaded = parseScenarioText(text, 'bench.yaml');
  const controller = new AbortController();
  /** @type {{ openNow: number, rss: number }[]} */
  const samples = [];
  const outDir = `${os.tmpdir()}/wsrace-bench-${process.pid}-${Date.now()}`;
  const result = await runScenario(loaded, {
    outDir,
    workers: WORKERS,
    signal: controller.signal,
    onProgress: (p) => {
      samples.push({ openNow: p.openNow, rss: process.memoryUsage().rss });
      if (signalWhen?.(p)) controller.abort('bench');
    },
  });
  return { summary: result.summary, samples, steady: steadyLag(outDir), outDir };
}

/**
 * The fields of an events.ndjson line read here (ms since T0; `start` is null for a dropped attempt).
 * @typedef {{ sched: number, start: number | null, end: number }} EventLine
 */
/**
 * From events.ndjson: the schedule lag of the attempts after the first second (JIT warm-up
 * excluded), and the mean socket life (start → end), which with the rate gives the sockets in
 * flight (Little's law) for the same-concurrency floor.
 * @param {string} outDir
 */
function steadyLag(outDir) {
  /** @type {number[]} */
  const lags = [];
  let life = 0;
  let lives = 0;
  for (const line of readFileSync(`${outDir}/events.ndjson`, 'utf8').split('\n')) {
    if (!line) continue;
    /** @type {EventLine} */
    const e = JSON.parse(line);
    if (e.start === null) continue;
    if (e.sched >= 1000) lags.push(e.start - e.sched);
    life += e.end - e.start;
    lives++;
  }
  lags.sort((a, b) => a - b);
  /** @param {number} q */
  const at = (q) => (lags.length ? +lags[Math.min(lags.length - 1, Math.floor(q * lags.length))].toFixed(3) : null);
  return { count: lags.length, p50: at(0.5), p99: at(0.99), max: lags.length ? +lags[lags.length - 1].toFixed(3) : null, meanLifeMs: lives ? life / lives : 0 };
}
/** @typedef {ReturnType<typeof steadyLag>} SteadyLag */

/**
 * On schedule: every attempt done and closed 1000 (none dropped or failed) and the sustained
 * schedule lag (after the first second's JIT warm-up) has p99 within 10 ms — the generator kept
 * pace instead of building a backlog.
 */
const ON_SCHEDULE_LAG_P99_MS = 10;
/**
 * @param {Summary} s
 * @param {SteadyLag} steady
 */
const onSchedule = (s, steady) => s.totals.attempted === s.schedule.scheduled && (s.totals.closeCodes['1000'] ?? 0) === s.totals.attempted && steady.p99 !== null && steady.p99 <= ON_SCHEDULE_LAG_P99_MS;
/**
 * A run fell behind: its schedule lag p99 is over 10 ms (one without any lag sample is not).
 * @param {number | null} p99
 */
const fellBehind = (p99) => p99 !== null && p99 > ON_SCHEDULE_LAG_P99_MS;

/** The machine, and the time a spinning thread loses on it while idle: lag of that size is not wsrace's. */
function measureMachine() {
  const base = { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}`, memoryGiB: Math.round(os.totalmem() / 2 ** 30), openFiles: openFileLimit(), workers: WORKERS };
  log(`machine: ${base.cpus} cores (${base.cpuModel}), node ${base.node}, ${base.memoryGiB} GiB, ulimit -n ${base.openFiles}; ${WORKERS} worker threads; ${REPEATS} repeats`);
  /** @type {{ seconds: number, gaps: number, lostMs: number, largestMs: number[] }} */
  const noise = JSON.parse(String(execFileSync(process.execPath, [benchScript('machine-noise.mjs'), '3'], { timeout: 30_000 })));
  log(`machine noise: a spinning thread lost ${noise.lostMs} ms in ${noise.gaps} gaps over ${noise.seconds} s (largest ${noise.largestMs.join(', ')} ms)`);
  return { ...base, noise };
}
/** @typedef {ReturnType<typeof measureMachine>} Machine */

/**
 * One repeat's wsrace ladder: fractions of the floor while wsrace keeps pace, then (full runs)
 * two bisection steps. Returns the best rate on schedule and the sockets in flight at it.
 * @param {EchoServer} server
 * @param {number} floorNow
 * @param {number} r the repeat
 * @param {readonly number[]} fractions
 */
async function climbWsrace(server, floorNow, r, fractions) {
  let inFlight = 1;
  /** The summary of the best run on schedule (its handshake's parts: tcpConnectMs, tlsHandshakeMs). */
  /** @type {Summary | null} */
  let top = null;
  /**
   * @param {number} rate
   * @param {string} label
   */
  const attempt = async (rate, label) => {
    const { summary, steady } = await wsrace(server.url, { rate, seconds: SECONDS, ca: server.ca });
    const ok = onSchedule(summary, steady);
    if (ok) inFlight = Math.max(1, Math.ceil((rate * steady.meanLifeMs) / 1000));
    if (ok && rate > (top?.schedule.peakRate ?? 0)) top = summary;
    log(`wsrace run ${r + 1} at ${rate}/s (${label}): lag p99 ${summary.scheduleLagMs.p99} ms (sustained ${steady.p99} ms), closed 1000 ${summary.totals.closeCodes['1000'] ?? 0}/${summary.totals.attempted} → ${ok ? 'on schedule' : 'behind'}`);
    return ok;
  };
  let best = 0;
  /** @type {number | null} */
  let failed = null;
  for (const f of fractions) {
    const rate = Math.max(1, Math.round(floorNow * f));
    if (!(await attempt(rate, `${f}× floor`))) {
      failed = rate;
      break; // the ladder only goes up while wsrace keeps pace
    }
    best = rate;
  }
  // Two bisection steps between the last rate that kept pace and the first that did not.
  for (let step = 0; step < (QUICK ? 0 : 2) && failed !== null && best > 0; step++) {
    const mid = Math.round((best + failed) / 2);
    if (await attempt(mid, 'bisect')) best = mid;
    else failed = mid;
  }
  return { best, inFlight, top };
}

/**
 * One repeat's peer ladder (finer than wsrace's: it falls behind far lower). Null when the peer
 * failed to run: it is skipped from then on.
 * @param {string} dir
 * @param {EchoServer} server
 * @param {number} floorNow
 * @param {number} r the repeat
 * @returns {number | null}
 */
function climbPeer(dir, server, floorNow, r) {
  let peerBest = 0;
  /** @type {number | null} */
  let peerFailed = null;
  for (const f of QUICK ? [0.05, 0.1] : [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0]) {
    const rate = Math.max(1, Math.round(floorNow * f));
    const p = peerRun(dir, server.url, rate, SECONDS);
    if (!p) return null;
    log(`peer (artillery ${PEER_VERSION}) run ${r + 1} at ${rate}/s: sustained lag p99 ${p.sustainedP99} ms, opened ${p.opened}/${p.scheduled}, errors ${p.errors} → ${p.ok ? 'on schedule' : 'behind'}`);
    if (!p.ok) {
      peerFailed = rate;
      break;
    }
    peerBest = rate;
  }
  // Only full runs bisect, so their runs last SECONDS = 4 like the ladder's.
  for (let step = 0; step < (QUICK ? 0 : 2) && peerFailed !== null && peerBest > 0; step++) {
    const mid = Math.round((peerBest + peerFailed) / 2);
    const p = peerRun(dir, server.url, mid, SECONDS);
    if (!p) return null;
    log(`peer run ${r + 1} at ${mid}/s (bisect): sustained lag p99 ${p.sustainedP99} ms, opened ${p.opened}/${p.scheduled}, errors ${p.errors} → ${p.ok ? 'on schedule' : 'behind'}`);
    if (p.ok) peerBest = mid;
    else peerFailed = mid;
  }
  return peerBest;
}

/**
 * 1. Connection rate: each repeat measures the floor, then walks wsrace up a ladder of
 * fractions of that floor, so both sides of every ratio see the same machine minutes. The
 * ladder goes past 1×: at 11:08 on 2026-11-29 wsrace kept the top rung (the floor measured
 * in a slow minute) in two repeats, and the floor at its concurrency measured after it was
 * higher, so the ratio said 0.78 where wsrace's own limit had not been found. At 18:31 and
 * 18:43 it kept the then top rung (1.3×) in two repeats of three, so the ladder goes to 2×: the
 * lag rows below are asked at fractions of this rate, and a capped rate would make them easy.
 * @param {EchoServer} server
 */
async function measureConnectionRate(server) {
  const concurrencies = QUICK ? [16] : [8, 16, 32, 64];
  const fractions = QUICK ? [0.4, 0.6] : [0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0];
  /** @type {number[]} */
  const floorRuns = [];
  /** @type {number[]} */
  const rateRuns = [];
  /** @type {number[]} */
  const ratioRuns = [];
  /** @type {{ inFlight: number, floor: number, ratio: number }[]} */
  const sameRuns = [];
  let peer = peerDir();
  const peerInstalled = peer !== null;
  /** @type {{ rate: number, ratio: number }[]} */
  const peerRuns = [];
  for (let r = 0; r < REPEATS; r++) {
    const floorNow = Math.max(...concurrencies.map((c) => floor(server.url, SECONDS, c)));
    floorRuns.push(floorNow);
    log(`floor run ${r + 1}: ${floorNow.toFixed(0)} open+close/s`);
    const { best, inFlight } = await climbWsrace(server, floorNow, r, fractions);
    rateRuns.push(best);
    ratioRuns.push(best / floorNow);
    // The issue's own floor: the plain loop with as many sockets in flight as wsrace had at its best rate.
    const floorSame = floor(server.url, SECONDS, inFlight);
    sameRuns.push({ inFlight, floor: Math.round(floorSame), ratio: +(best / floorSame).toFixed(3) });
    log(`floor run ${r + 1} with wsrace's ${inFlight} sockets in flight: ${floorSame.toFixed(0)} open+close/s`);
    if (peer) {
      // The peer climbs its own ladder, in the same repeat.
      const peerBest = climbPeer(peer, server, floorNow, r);
      if (peerBest === null) peer = null;
      else peerRuns.push({ rate: peerBest, ratio: +(peerBest / floorNow).toFixed(3) });
    }
  }
  const floorRate = median(floorRuns);
  const maxRate = median(rateRuns) || Math.round(floorRate * 0.3);
  const connectionRate = { onSchedule: `all attempts closed 1000 and schedule lag p99 ≤ ${ON_SCHEDULE_LAG_P99_MS} ms`, floorPerSecond: Math.round(floorRate), floorRuns: floorRuns.map(Math.round), wsraceOnSchedulePerSecond: maxRate, wsraceRuns: rateRuns, ratio: +median(ratioRuns).toFixed(3), ratioRuns: ratioRuns.map((x) => +x.toFixed(3)), sameConcurrency: { ratio: median(sameRuns.map((x) => x.ratio)), runs: sameRuns }, target: 0.85 };
  const peerResult = peerRuns.length
    ? { tool: `artillery ${PEER_VERSION} (ws engine, arrivalRate; bench/peer-artillery.cjs)`, onSchedule: 'every socket created and opened, no errors, lag p99 after the first second ≤ 10 ms (lag against the schedule origin most favourable to it)', onSchedulePerSecond: median(peerRuns.map((x) => x.rate)), ratio: median(peerRuns.map((x) => x.ratio)), runs: peerRuns, failures: peerFailures }
    : { skipped: peerInstalled ? 'artillery failed to run' : 'artillery could not be installed (no registry?) and BENCH_PEER was not set', failures: peerFailures };
  return { connectionRate, peer: peerResult };
}

/**
 * REPEATS runs at `f` × the top rate, and the machine's own floor for that pattern.
 * @param {EchoServer} server
 * @param {number} maxRate
 * @param {number} f
 */
async function lagRow(server, maxRate, f) {
  const runs = [];
  for (let r = 0; r < REPEATS; r++) {
    const { summary, steady } = await wsrace(server.url, { rate: Math.max(1, Math.round(maxRate * f)), seconds: SECONDS });
    runs.push({ p50: summary.scheduleLagMs.p50, p99: summary.scheduleLagMs.p99, max: summary.scheduleLagMs.max, steadyP99: steady.p99, loopDelayP99: summary.loopDelayMs.p99, dropped: summary.totals.dropped, behind: summary.findings.some((x) => x.startsWith('schedule lag')) });
  }
  // The machine's own floor for this: the same timer pattern with no sockets (bench/timer-floor.mjs).
  /** @type {{ p50: number, p99: number, max: number }} */
  const timer = JSON.parse(String(execFileSync(process.execPath, [benchScript('timer-floor.mjs'), String(Math.max(1, Math.round(maxRate * f))), '4'], { timeout: 30_000 })));
  const row = { rate: Math.round(maxRate * f), timerFloor: timer, p50: median(runs.map((x) => x.p50)), p99: median(runs.map((x) => x.p99)), max: median(runs.map((x) => x.max)), sustainedP99: median(runs.map((x) => x.steadyP99)), loopDelayP99: median(runs.map((x) => x.loopDelayP99)), dropped: median(runs.map((x) => x.dropped)), reportedBehind: runs.every((x) => x.behind), behindRuns: runs.filter((x) => fellBehind(x.p99)).length, reportedWhenBehind: runs.every((x) => !fellBehind(x.p99) || x.behind), runP99s: runs.map((x) => x.p99) };
  log(`lag at ${f * 100}% (${row.rate}/s): p50 ${row.p50} p99 ${row.p99} (sustained ${row.sustainedP99}) max ${row.max} ms; worker loop delay p99 ${row.loopDelayP99} ms; ${row.behindRuns} of ${REPEATS} runs behind`);
  return row;
}

/**
 * 3. Schedule accuracy at 50% and 90% of wsrace's max, and overload at 150%.
 * @param {EchoServer} server
 * @param {number} maxRate
 */
async function measureScheduleLag(server, maxRate) {
  const lagAt = { '50%': await lagRow(server, maxRate, 0.5), '90%': await lagRow(server, maxRate, 0.9), '150%': await lagRow(server, maxRate, 1.5) };
  // The top rate is a median of noisy repeats: when it came out low, 150% of it is no overload,
  // and whether an overload is reported would go unasked. Then the rate doubles, up to 6×, until a run falls behind.
  /** @type {(Awaited<ReturnType<typeof lagRow>> & { fraction: number }) | null} */
  let overload = null;
  if (lagAt['150%'].behindRuns === 0) {
    for (const f of [3, 6]) {
      const row = await lagRow(server, maxRate, f);
      overload = { fraction: f, ...row };
      if (row.behindRuns > 0) break;
    }
  }
  return { ...lagAt, ...(overload ? { overload } : {}), targetP99At50: 2 };
}

/**
 * 4. Recording overhead: the server holds each 101 for 20 ms (and says how long it really held).
 * Each repeat runs wsrace, then the raw floor (bench/raw-handshake.mjs: dial → first byte of the
 * answer, nothing else), then a plain ws client, so the three see the same machine minutes.
 * @param {EchoServer} slow
 */
async function measureRecordingOverhead(slow) {
  /** @type {number[]} */
  const overhead = [];
  /** @type {number[]} */
  const overHeld = [];
  const parts = [];
  /** @type {number[]} */
  const raw = [];
  /** @type {number[]} */
  const plain = [];
  for (let r = 0; r < REPEATS; r++) {
    await slow.holds(); // reset
    const { summary } = await wsrace(slow.url, { rate: 200, seconds: 2 });
    const held = known((await slow.holds()).p50, "the server's 101 hold");
    const handshake = known(summary.handshakeMs.p50, 'handshake p50');
    overhead.push(handshake - 20);
    overHeld.push(handshake - held);
    // Where the time goes, at p50: the generator's lateness, TCP connect, request → 101 minus the
    // server's hold; the rest is 101 → open (ws's response handling and wsrace's bookkeeping).
    const lag = known(summary.scheduleLagMs.p50, 'schedule lag p50');
    const tcp = known(summary.tcpConnectMs.p50, 'TCP connect p50');
    const upgradeOverHold = known(summary.upgradeMs.p50, 'upgrade p50') - held;
    parts.push({ lag, tcp, upgradeOverHold: +upgradeOverHold.toFixed(3), rest: +(handshake - held - lag - tcp - upgradeOverHold).toFixed(3) });
    // The raw floor at the same rate, after a 1 s warm-up of its own.
    raw.push(known(JSON.parse(String(execFileSync(process.execPath, [benchScript('raw-handshake.mjs'), slow.url, '200', '2', freshSource(), '1'], { timeout: 60_000 }))).p50Ms, 'raw handshake p50') - 20);
    // A plain ws client: its first 2 s (~350 handshakes) only warm its JIT, as wsrace's workers
    // warm up before T0; 4 in flight is what wsrace holds at 200/s with 20 ms each.
    plain.push(known(floorRun(slow.url, 4, 4, 2000).handshakeP50Ms, 'plain client handshake p50') - 20);
  }
  const result = { delayMs: 20, p50OverMs: +median(overhead).toFixed(3), runs: overhead.map((x) => +x.toFixed(3)), p50OverServerHoldMs: +median(overHeld).toFixed(3), partsP50Ms: parts, rawClientP50OverMs: +median(raw).toFixed(3), rawRuns: raw.map((x) => +x.toFixed(3)), plainClientP50OverMs: +median(plain).toFixed(3), target: 1 };
  log(`recording overhead at p50: ${result.p50OverMs} ms over a 20 ms 101, ${result.p50OverServerHoldMs} ms over the server's measured hold (the raw floor: ${result.rawClientP50OverMs} ms; a plain ws client: ${result.plainClientP50OverMs} ms)`);
  return result;
}

/**
 * 2. Concurrency: hold as many sockets as the descriptor limit allows, measure RSS per socket.
 * @param {EchoServer} server
 * @param {number | null} openFiles
 */
async function measureConcurrency(server, openFiles) {
  const limit = openFiles ?? 20_000;
  const want = QUICK ? 5000 : Math.min(19_000, limit - 500);
  const before = process.memoryUsage().rss;
  const { summary, samples } = await wsrace(server.url, {
    rate: 2000,
    seconds: Math.ceil(want / 2000) + 3,
    hold: '120s',
    maxConnections: want,
    // 19,000 sockets from one address would fill most of its ~28k ports; near a full range
    // every connect() makes the kernel hunt for a free port (measured: 0.5-1 ms per connect
    // past ~14k sockets, and a 3 s stall). Four addresses, unused by the runs before.
    sources: '127.0.0.251-127.0.0.254',
    signalWhen: (p) => p.openNow >= want,
  });
  const peak = samples.reduce((m, s) => (s.openNow > m.openNow ? s : m), { openNow: 0, rss: before });
  const result = { heldAtOnce: peak.openNow, target: 19_000, rssBeforeMiB: +(before / 2 ** 20).toFixed(1), rssAtPeakMiB: +(peak.rss / 2 ** 20).toFixed(1), bytesPerSocket: Math.round((peak.rss - before) / Math.max(1, peak.openNow)), targetBytesPerSocket: 16 * 1024, dropped: summary.totals.dropped, errors: summary.totals.errorCodes };
  log(`concurrency: ${peak.openNow} sockets held, ${result.bytesPerSocket} B RSS each`);
  return result;
}

/**
 * 6. A connected population through a rollout: the largest of these client counts that fits
 * (every client connected, held when revision A drained, and back after it), wsrace as 3
 * processes (one may hold 20,000 descriptors) from 16 source addresses (50,000 sockets to one
 * port need more than one address's ephemeral ports), the simulator as 4. Memory per client
 * and the reconnects' schedule lag (start − backoff due time) while the herd ran. `nice`:
 * wsrace's --nice (the schedule favoured over the simulator on the same cores); default: none.
 * @param {number} [nice]
 */
async function populationLadder(nice) {
  const sizes = QUICK ? [5000] : [50_000, 40_000, 30_000, 20_000];
  const tries = [];
  for (const clients of sizes) {
    const r = await populationRun({ clients, wsraceProcesses: 3, simProcesses: 4, sources: '127.0.1.1-127.0.1.16', nice });
    const c = r.clients;
    const fit = c.connected === clients && r.truth.closes === clients && r.summary.disconnects?.total === r.truth.closes && c.neverBack === 0;
    const row = { clients, fit, wsraceProcesses: 3, simProcesses: 4, sourceAddresses: 16, plan: r.plan, exitCode: r.code, connected: c.connected ?? 0, neverConnected: c.neverConnected ?? 0, heldAtRollout: r.truth.closes, disconnects: r.summary.disconnects?.total ?? null, reconnected: c.reconnected ?? 0, neverBack: c.neverBack ?? 0, handshakeTimeouts: r.summary.totals.errors.handshake_timeout, memory: memoryOf(r, clients), retryLagMs: r.lags.retries, firstAttemptLagMs: r.lags.first, retryUpgradeMs: r.lags.retryUpgrades, workersNice: [...new Set(r.summary.workers.map((/** @type {{ nice: number | null }} */ w) => w.nice))], loopDelayMs: { p50: r.summary.loopDelayMs.p50, p99: r.summary.loopDelayMs.p99, max: r.summary.loopDelayMs.max }, messages: { sent: r.summary.messages?.sent ?? null, lost: r.summary.messages?.lost ?? null } };
    // Unprivileged, --nice -10 leaves the workers at their nice (without spinning): say so rather than report it as favoured.
    if (nice !== undefined && row.workersNice.some((n) => n !== nice)) log(`population ${clients}: asked --nice ${nice}, the workers ran at ${row.workersNice.join(', ')} (no CAP_SYS_NICE?): this ladder is not favoured`);
    log(`population ${clients}${nice === undefined ? '' : ` (--nice ${nice})`}: connected ${row.connected}, held at the rollout ${row.heldAtRollout}, disconnects ${row.disconnects}, never back ${row.neverBack}; wsrace RSS ${row.memory.bytesPerClient} B/client over idle (${row.memory.bytesPerClientWithIdle} with it); retry lag p99 ${row.retryLagMs.p99} ms (${row.retryLagMs.count} retries), first attempts p99 ${row.firstAttemptLagMs.p99} ms → ${fit ? 'fits' : 'does not fit'}`);
    tries.push(row);
    if (fit) break;
  }
  const best = tries.find((t) => t.fit) ?? null;
  return { largestThatFit: best?.clients ?? null, runs: tries };
}

/** The workers' nice of the row's second ladder: wsrace's own favour, asked for with --nice. */
const FAVOURED_NICE = WORKER_NICE;

/**
 * 6. The population, as wsrace runs by default, and again with its workers favoured (`--nice
 * -10`): on 2 cores shared with the simulator the retries wait for a core by default, and the
 * favour moves that wait onto the simulator (retryUpgradeMs shows what it cost the target).
 */
async function measurePopulation() {
  const plain = await populationLadder();
  const favoured = { nice: FAVOURED_NICE, ...(await populationLadder(FAVOURED_NICE)) };
  return { goal: { clients: 50_000, bytesPerClient: 6 * 1024, retryLagP99Ms: ON_SCHEDULE_LAG_P99_MS }, ...plain, favoured };
}
/** @typedef {Awaited<ReturnType<typeof measurePopulation>>} PopulationResult */

/** @param {PopulationResult} p */
function populationRows(p) {
  /** @param {PopulationResult['runs'][number]} r @param {string} how */
  const row = (r, how) => [`population ${r.clients} through a rollout${how}`, `${r.fit ? 'fits' : 'does not fit'}`, `${r.memory.bytesPerClient} B/client`, `retry lag p99 ${r.retryLagMs.p99} ms (${r.retryLagMs.count}), first attempts p99 ${r.firstAttemptLagMs.p99} ms; retries' upgrades p50 ${r.retryUpgradeMs?.p50} ms; ${r.memory.bytesPerClientWithIdle} B/client with idle processes (goals ≤ 6 KiB, p99 ≤ 10 ms)`];
  return [...p.runs.map((r) => row(r, '')), ...(p.favoured?.runs ?? []).map((r) => row(r, `, --nice ${p.favoured.nice}`))];
}

/**
 * 5. Message streams: 2,000 sockets open, each sending a ping every `every` and timing its pong
 * (the echo server answers `{"type":"ping","seq":N}` with `{"type":"pong","seq":N}`); the rate
 * is 2,000 × 1000 / every messages a second, each a round trip.
 */
const MESSAGE_SOCKETS = 2000;
/** wsrace keeps a message rate on schedule when its send lag p99 stays within this. */
const SEND_LAG_P99_MS = 5;
/** The floor sustains a rate when its setIntervals send at least this share of it, and get every reply. */
const FLOOR_SEND_SHARE = 0.95;
/** The ladder's rungs, messages per second (every = 2,000 × 1000 / rate ms); both sides climb it together. */
const MESSAGE_RUNGS = QUICK ? [10_000, 20_000] : [5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 35_000, 40_000, 50_000, 60_000, 80_000];
/** @param {number} rate messages per second over the 2,000 sockets */
const everyFor = (rate) => +((MESSAGE_SOCKETS * 1000) / rate).toFixed(3);

/**
 * What bench/stream-floor.mjs prints.
 * @typedef {{ sockets: number, opened: number, sent: number, replied: number, mismatched: number, seconds: number, perSecond: number, sendPerSecond: number, rttP50Ms: number | null, rttP99Ms: number | null, timerLateP50Ms: number | null, timerLateP99Ms: number | null, cpuS: number, streamCpuUsPerMessage: number }} StreamFloorResult
 */
/**
 * The floor at `rate`: the plain ws loop (bench/stream-floor.mjs) on as many threads as wsrace
 * has workers, streaming for SECONDS once its sockets are open.
 * @param {string} url
 * @param {number} rate
 */
function streamFloorRun(url, rate) {
  /** @type {StreamFloorResult} */
  const r = JSON.parse(String(execFileSync(process.execPath, [benchScript('stream-floor.mjs'), url, String(MESSAGE_SOCKETS), String(everyFor(rate)), String(SECONDS), String(WORKERS), freshSource()], { timeout: (SECONDS + 60) * 1000 })));
  const ok = r.opened === MESSAGE_SOCKETS && r.sent > 0 && r.replied === r.sent && r.mismatched === 0 && r.sendPerSecond >= FLOOR_SEND_SHARE * rate;
  return { ...r, ok };
}

/**
 * Send lag from latency.hlog's `message-send-lag` intervals after the first (which covers the
 * opening second): the lag with every socket open, as the issue's target is put, in the way the
 * connection rate's sustained lag leaves out the first second.
 * @param {string} outDir
 */
function sendLagAfterOpening(outDir) {
  const intervals = readHlog(`${outDir}/latency.hlog`);
  const firstEnd = Math.min(...intervals.map((i) => i.endMs));
  const merged = createHistogram();
  for (const i of intervals) if (i.tag === 'message-send-lag' && i.startMs >= firstEnd) merged.add(i.histogram);
  return latencyStats(merged);
}

/**
 * wsrace at `rate`: 2,000 sockets opened over the first second (each handshake given 20 s, as
 * the floor gives its sockets), each streaming from its open for SECONDS (the hold), then
 * waiting for its last replies and closing 1000. On schedule: every socket opened and closed
 * 1000, every message replied within `within` (none late, lost, duplicated or unmatched), send
 * lag p99 ≤ 5 ms after the opening second (the whole run's is reported too).
 * @param {string} url
 * @param {number} rate
 */
async function streamRun(url, rate) {
  const { summary, outDir } = await wsrace(url, { rate: MESSAGE_SOCKETS, seconds: 1, hold: `${SECONDS}s`, maxConnections: MESSAGE_SOCKETS, extra: `  stream: { every: ${everyFor(rate)}ms }\n`, handshakeTimeout: '20s' });
  const steady = sendLagAfterOpening(outDir);
  rmSync(outDir, { recursive: true, force: true }); // a stream's messages.ndjson is tens of MB
  const m = summary.messages;
  if (!m) throw new Error('the stream run wrote no summary.messages');
  const allClosed = summary.totals.attempted === MESSAGE_SOCKETS && (summary.totals.closeCodes['1000'] ?? 0) === MESSAGE_SOCKETS;
  const allReplied = m.sent > 0 && m.replied === m.sent && m.late + m.lost + m.duplicates + m.unmatched === 0;
  const ok = allClosed && allReplied && steady.p99 !== null && steady.p99 <= SEND_LAG_P99_MS;
  /** @param {import('../dist/record/histogram.js').LatencyStats} h */
  const pick = (h) => ({ p50: h.p50, p90: h.p90, p99: h.p99, p999: h.p999, max: h.max });
  return { rate, everyMs: everyFor(rate), ok, opened: summary.totals.opened, closed1000: summary.totals.closeCodes['1000'] ?? 0, sent: m.sent, replied: m.replied, late: m.late, lost: m.lost, sendLagMs: pick(steady), sendLagWholeRunMs: pick(m.sendLagMs), rttMs: pick(m.rttMs), loopDelayP99Ms: summary.loopDelayMs.p99 };
}
/** @typedef {Awaited<ReturnType<typeof streamRun>>} StreamRun */
/** @typedef {ReturnType<typeof streamFloorRun>} StreamFloorRun */

/**
 * One repeat's message-rate ladder: at each rung the floor, then wsrace, so both see the same
 * machine minute; each side climbs until its first rung missed, then (full runs) two bisection
 * steps between its last rung kept and that one.
 * @param {EchoServer} server
 * @param {number} r the repeat
 */
async function climbMessages(server, r) {
  /** @type {{ best: number, failed: number | null, top: StreamFloorRun | null }} */
  const floorSide = { best: 0, failed: null, top: null };
  /** @type {{ best: number, failed: number | null, top: StreamRun | null }} */
  const wsraceSide = { best: 0, failed: null, top: null };
  /** Every rung tried, kept or missed, in order: a missed rung's numbers say by how much. */
  /** @type {({ side: 'floor', rate: number, ok: boolean, sendPerSecond: number, replied: number, sent: number, rttP99Ms: number | null, timerLateP99Ms: number | null } | { side: 'wsrace', rate: number, ok: boolean, opened: number, sendLagP99Ms: number | null, sendLagWholeRunP99Ms: number | null, rttP99Ms: number | null, replied: number, sent: number })[]} */
  const tried = [];
  /** @param {number} rate @param {string} label */
  const tryFloor = (rate, label) => {
    const f = streamFloorRun(server.url, rate);
    log(`message floor run ${r + 1} at ${rate}/s (every ${everyFor(rate)} ms${label}): sent ${f.sendPerSecond}/s, ${f.replied}/${f.sent} replied, rtt p50 ${f.rttP50Ms} p99 ${f.rttP99Ms} ms, its timers late p50 ${f.timerLateP50Ms} p99 ${f.timerLateP99Ms} ms → ${f.ok ? 'sustained' : 'not sustained'}`);
    tried.push({ side: 'floor', rate, ok: f.ok, sendPerSecond: f.sendPerSecond, replied: f.replied, sent: f.sent, rttP99Ms: f.rttP99Ms, timerLateP99Ms: f.timerLateP99Ms });
    if (f.ok) Object.assign(floorSide, { best: rate, top: f });
    else floorSide.failed = rate;
  };
  /** @param {number} rate @param {string} label */
  const tryWsrace = async (rate, label) => {
    const w = await streamRun(server.url, rate);
    log(`wsrace stream run ${r + 1} at ${rate}/s (every ${w.everyMs} ms${label}): send lag after the opening second p99 ${w.sendLagMs.p99} max ${w.sendLagMs.max} ms (whole run p99 ${w.sendLagWholeRunMs.p99}), rtt p50 ${w.rttMs.p50} p99 ${w.rttMs.p99} ms, replied ${w.replied}/${w.sent} (late ${w.late}, lost ${w.lost}), closed 1000 ${w.closed1000}/${MESSAGE_SOCKETS} → ${w.ok ? 'on schedule' : 'behind'}`);
    tried.push({ side: 'wsrace', rate, ok: w.ok, opened: w.opened, sendLagP99Ms: w.sendLagMs.p99, sendLagWholeRunP99Ms: w.sendLagWholeRunMs.p99, rttP99Ms: w.rttMs.p99, replied: w.replied, sent: w.sent });
    if (w.ok) Object.assign(wsraceSide, { best: rate, top: w });
    else wsraceSide.failed = rate;
  };
  for (const rate of MESSAGE_RUNGS) {
    if (floorSide.failed === null) tryFloor(rate, '');
    if (wsraceSide.failed === null) await tryWsrace(rate, '');
    if (floorSide.failed !== null && wsraceSide.failed !== null) break;
  }
  /** @param {number} best @param {number} failed */
  const mid = (best, failed) => Math.round((best + failed) / 2 / 100) * 100;
  for (let step = 0; step < (QUICK ? 0 : 2); step++) {
    if (floorSide.failed !== null && floorSide.best > 0) tryFloor(mid(floorSide.best, floorSide.failed), ', bisect');
    if (wsraceSide.failed !== null && wsraceSide.best > 0) await tryWsrace(mid(wsraceSide.best, wsraceSide.failed), ', bisect');
  }
  return { floor: floorSide, wsrace: wsraceSide, tried };
}

/**
 * RSS per socket with a stream (every 1 s, the default) and without, each in a fresh process
 * (bench/stream-memory.mjs) holding the same sockets, at two socket counts: in each repeat one
 * run of each kind at each count, the order alternating so that a machine growing busier favours
 * neither. Each run's RSS is the median of its settled samples (10 s with every socket open, the
 * last 5). Two measures of what a stream adds:
 * - at the higher count, (on − off) / sockets: everything a streaming run holds beside the idle
 *   one, its per-process costs (the young generations a busy worker and the recording main
 *   thread keep) spread over the sockets;
 * - per added socket, the slopes between the two counts: on (high − low) − off (high − low), over
 *   the sockets added: what one more streaming socket costs, the per-process part cancelled;
 * and both again after a full collection in every thread (bench/stream-memory.mjs): without the
 * garbage V8 had not collected yet, which made the settled figures swing by ±15 MiB.
 * @param {EchoServer} server
 */
function measureStreamMemory(server) {
  const [low, high] = QUICK ? [2000, 8000] : [4000, 16_000];
  /** @typedef {{ held: number, opened: number, failed: Record<string, number>, rssBeforeMiB: number, rssPeakMiB: number, rssSettledMiB: number, rssAfterGcMiB: number, rssBeforeBytes: number, rssSettledBytes: number, rssAfterGcBytes: number, bytesPerSocket: number | null, sent: number }} MemoryRun */
  /** @param {number} sockets @param {'off' | '1s'} every @returns {{ before: number, settled: number, afterGc: number } | null} RSS in bytes before the run, settled, and after a full collection; null when not every socket opened */
  const run = (sockets, every) => {
    /** @type {MemoryRun} */
    const r = JSON.parse(String(execFileSync(process.execPath, [...recorderNodeFlags(), benchScript('stream-memory.mjs'), server.url, String(sockets), every, `${freshSource()},${freshSource()}`, '10'], { timeout: 180_000 })));
    log(`memory with ${sockets} sockets, stream ${every}: ${r.held} held (opened ${r.opened}, failed ${JSON.stringify(r.failed)}), RSS ${r.rssBeforeMiB} → settled ${r.rssSettledMiB} MiB (peak ${r.rssPeakMiB}; ${r.rssAfterGcMiB} after a full collection), ${r.sent} messages sent`);
    return r.held ? { before: r.rssBeforeBytes, settled: r.rssSettledBytes, afterGc: r.rssAfterGcBytes } : null;
  };
  /** @typedef {{ off: number, on: number, extra: number, marginalExtra: number, extraAfterGc: number, marginalExtraAfterGc: number }} MemoryRepeat bytes per socket, one repeat's four runs */
  /** @type {MemoryRepeat[]} */
  const runs = [];
  /** Repeats in which not every socket opened in some run: no measurement, said so rather than stopping the bench. */
  let incomplete = 0;
  for (let r = 0; r < REPEATS; r++) {
    /** @type {Record<string, { before: number, settled: number, afterGc: number } | null>} */
    const rss = {};
    const order = r % 2 === 0 ? [[low, 'off'], [low, '1s'], [high, '1s'], [high, 'off']] : [[high, 'off'], [high, '1s'], [low, '1s'], [low, 'off']];
    for (const [sockets, every] of /** @type {[number, 'off' | '1s'][]} */ (order)) rss[`${sockets} ${every}`] = run(sockets, every);
    const [offLow, onLow, offHigh, onHigh] = [rss[`${low} off`], rss[`${low} 1s`], rss[`${high} off`], rss[`${high} 1s`]];
    if (offLow === null || onLow === null || offHigh === null || onHigh === null) {
      incomplete++;
      continue;
    }
    // Per socket over the process's own RSS before the run (as the concurrency row counts it);
    // the differences between runs take the settled RSS whole, each process's baseline in it.
    runs.push({
      off: Math.round((offHigh.settled - offHigh.before) / high),
      on: Math.round((onHigh.settled - onHigh.before) / high),
      extra: Math.round((onHigh.settled - offHigh.settled) / high),
      marginalExtra: Math.round((onHigh.settled - onLow.settled - (offHigh.settled - offLow.settled)) / (high - low)),
      extraAfterGc: Math.round((onHigh.afterGc - offHigh.afterGc) / high),
      marginalExtraAfterGc: Math.round((onHigh.afterGc - onLow.afterGc - (offHigh.afterGc - offLow.afterGc)) / (high - low)),
    });
  }
  /** @param {(x: MemoryRepeat) => number} f */
  const mid = (f) => (runs.length ? median(runs.map(f)) : null);
  const result = { sockets: high, lowSockets: low, every: '1s', bytesPerSocketOff: mid((x) => x.off), bytesPerSocketOn: mid((x) => x.on), extraBytesPerSocket: mid((x) => x.extra), marginalExtraBytesPerSocket: mid((x) => x.marginalExtra), extraBytesPerSocketAfterGc: mid((x) => x.extraAfterGc), marginalExtraBytesPerSocketAfterGc: mid((x) => x.marginalExtraAfterGc), runs, incomplete, targetExtraBytes: 1024 };
  log(`stream memory: ${result.extraBytesPerSocket} B more per socket with a stream at ${high} sockets (${result.bytesPerSocketOn} against ${result.bytesPerSocketOff} B), ${result.marginalExtraBytesPerSocket} B more per added socket (${low} → ${high}); after a full collection ${result.extraBytesPerSocketAfterGc} and ${result.marginalExtraBytesPerSocketAfterGc} B${incomplete ? `; ${incomplete} repeat(s) without every socket open left out` : ''}`);
  return result;
}

/**
 * The floor's rate under wsrace's own rule: climbing its rungs in order, the last one sustained
 * with its timers late by at most SEND_LAG_P99_MS at p99 (0 when the first is not).
 * @param {Awaited<ReturnType<typeof climbMessages>>['tried']} tried
 */
function floorOnSameRule(tried) {
  let best = 0;
  for (const t of tried.filter((x) => x.side === 'floor').sort((a, b) => a.rate - b.rate)) {
    if (!(t.side === 'floor' && t.ok && t.timerLateP99Ms !== null && t.timerLateP99Ms <= SEND_LAG_P99_MS)) break;
    best = t.rate;
  }
  return best;
}

/**
 * The message rate: REPEATS repeats of the joint ladder; the rate each side keeps is the median
 * of its repeats, the ratio the median of each repeat's wsrace / floor.
 * @param {EchoServer} server
 */
async function measureMessageRate(server) {
  /** @type {Awaited<ReturnType<typeof climbMessages>>[]} */
  const repeats = [];
  for (let r = 0; r < REPEATS; r++) repeats.push(await climbMessages(server, r));
  const floorRuns = repeats.map((x) => x.floor.best);
  const wsraceRuns = repeats.map((x) => x.wsrace.best);
  const ratioRuns = repeats.map((x) => (x.floor.best > 0 ? +(x.wsrace.best / x.floor.best).toFixed(3) : null));
  const floorSameRuleRuns = repeats.map((x) => floorOnSameRule(x.tried));
  const ratioSameRuleRuns = repeats.map((x, k) => (floorSameRuleRuns[k] > 0 ? +(x.wsrace.best / floorSameRuleRuns[k]).toFixed(3) : null));
  // The percentiles at the top rate: those of the repeat whose top rate is the median.
  const medianRepeat = repeats.find((x) => x.wsrace.best === median(wsraceRuns)) ?? repeats[0];
  const result = {
    sockets: MESSAGE_SOCKETS,
    onSchedule: `every socket opened and closed 1000, every message replied within 2 s (none late, lost, duplicated or unmatched), send lag p99 ≤ ${SEND_LAG_P99_MS} ms after the opening second`,
    floorSustained: `every socket opened, every message replied, at least ${FLOOR_SEND_SHARE * 100}% of the rate sent (bench/stream-floor.mjs: one setInterval per socket)`,
    rungs: MESSAGE_RUNGS,
    floorPerSecond: median(floorRuns),
    floorRuns,
    wsraceOnSchedulePerSecond: median(wsraceRuns),
    wsraceRuns,
    ratio: median(ratioRuns),
    ratioRuns,
    floorSameRule: `the floor's rungs sustained with its own timers late by at most ${SEND_LAG_P99_MS} ms at p99 (against the turn its setInterval set), the counterpart of wsrace's send lag`,
    floorSameRulePerSecond: median(floorSameRuleRuns),
    floorSameRuleRuns,
    ratioSameRule: median(ratioSameRuleRuns),
    ratioSameRuleRuns,
    atTop: medianRepeat.wsrace.top,
    floorAtTop: medianRepeat.floor.top,
    tops: repeats.map((x) => ({ wsrace: x.wsrace.top, floor: x.floor.top, wsraceFailedAt: x.wsrace.failed, floorFailedAt: x.floor.failed })),
    ladders: repeats.map((x) => x.tried),
    targetPerSecond: 20_000,
    targetRatio: 0.85,
  };
  log(`message rate: wsrace ${result.wsraceOnSchedulePerSecond}/s on schedule (runs ${wsraceRuns.join(' / ')}), the floor ${result.floorPerSecond}/s (runs ${floorRuns.join(' / ')}), ratio ${result.ratio}; the floor with its timers within ${SEND_LAG_P99_MS} ms ${result.floorSameRulePerSecond}/s (runs ${floorSameRuleRuns.join(' / ')}), ratio ${result.ratioSameRule}`);
  return result;
}

/**
 * Every measurement, in the order results.json has always listed them.
 * @param {Machine} machine
 * @param {EchoServer} server
 * @param {EchoServer} slow
 */
async function measure(machine, server, slow) {
  const date = new Date().toISOString();
  // Warm up both sides once.
  floor(server.url, 1, 16);
  await wsrace(server.url, { rate: 500, seconds: 1 });
  const { connectionRate, peer } = await measureConnectionRate(server);
  const scheduleLag = await measureScheduleLag(server, connectionRate.wsraceOnSchedulePerSecond);
  const recordingOverhead = await measureRecordingOverhead(slow);
  const concurrency = await measureConcurrency(server, machine.openFiles);
  const { messageRate, streamMemory } = await measureMessages(machine, server);
  const population = await measurePopulation();
  return { machine, date, repeats: REPEATS, connectionRate, peer, scheduleLag, recordingOverhead, concurrency, messageRate, streamMemory, population };
}
/** @typedef {Awaited<ReturnType<typeof measure>>} Results */

/**
 * The message part (5.), which BENCH_ONLY=messages runs alone: its results say when and on how
 * noisy a machine they were measured, as they may sit in results.json next to an older run's.
 * @param {Machine} machine
 * @param {EchoServer} server
 */
async function measureMessages(machine, server) {
  const date = new Date().toISOString();
  const rate = await measureMessageRate(server);
  const streamMemory = measureStreamMemory(server);
  return { messageRate: { date, machineNoise: machine.noise, repeats: REPEATS, ...rate }, streamMemory };
}
/** @typedef {Awaited<ReturnType<typeof measureMessages>>} MessageResults */

/**
 * The table's rows for the message part.
 * @param {MessageResults} m
 * @returns {string[][]}
 */
function messageRows({ messageRate: rate, streamMemory: mem }) {
  const top = rate.atTop;
  const atTop = top ? `at the top: send lag p50 ${top.sendLagMs.p50} p99 ${top.sendLagMs.p99} ms, round trip p50 ${top.rttMs.p50} p99 ${top.rttMs.p99} ms` : 'no rung kept';
  return [
    ['message rate (round trips/s)', `floor ${rate.floorPerSecond}`, `wsrace ${rate.wsraceOnSchedulePerSecond} on schedule`, `${rate.ratio}× the floor (target ≥ 20,000/s and ≥ 0.85×), ${rate.ratioSameRule}× the floor on wsrace's rule (${rate.floorSameRulePerSecond}/s with its timers within ${SEND_LAG_P99_MS} ms); ${atTop}`],
    streamMemoryRow(mem),
  ];
}

/** @param {MessageResults['streamMemory']} mem @returns {string[]} */
function streamMemoryRow(mem) {
  return ['stream memory per socket', `+${mem.extraBytesPerSocket} B`, `+${mem.marginalExtraBytesPerSocket} B per added socket`, `${mem.sockets} sockets held (${mem.bytesPerSocketOn} against ${mem.bytesPerSocketOff} B), stream every ${mem.every} against none; added: ${mem.lowSockets} → ${mem.sockets}; after a full collection +${mem.extraBytesPerSocketAfterGc} B and +${mem.marginalExtraBytesPerSocketAfterGc} B per added socket (target ≤ 1 KiB more)`];
}

/** @param {Results} results @param {string[][]} besideRows the rows of the parts beside the other tools */
function printTable(results, besideRows) {
  const { machine, connectionRate: c, peer, scheduleLag: lag, recordingOverhead: over, concurrency } = results;
  const { overload } = lag;
  const rows = [
    ['connection rate (open+close/s)', `floor ${c.floorPerSecond}`, `wsrace ${c.wsraceOnSchedulePerSecond} on schedule`, `${c.ratio}× best floor, ${c.sameConcurrency.ratio}× floor at wsrace's concurrency (target ≥ 0.85)`],
    ...('skipped' in peer ? [] : [['peer on schedule (artillery)', `${peer.onSchedulePerSecond}/s`, `${peer.ratio}× best floor`, `wsrace keeps ${(c.wsraceOnSchedulePerSecond / Math.max(1, peer.onSchedulePerSecond)).toFixed(1)}× the peer's rate on schedule`]]),
    ['sockets held at once', `${concurrency.heldAtOnce}`, `${concurrency.bytesPerSocket} B RSS/socket`, `target 19,000 at ≤ 16 KiB`],
    ['schedule lag at 50% max', `p50 ${lag['50%'].p50} ms`, `p99 ${lag['50%'].p99} ms`, `sustained p99 ${lag['50%'].sustainedP99} ms (target p99 ≤ 2; a bare timer: p99 ${lag['50%'].timerFloor.p99} ms; idle machine took up to ${machine.noise.largestMs[0] ?? 0} ms from a spinning thread)`],
    ['schedule lag at 90% max', `p50 ${lag['90%'].p50} ms`, `p99 ${lag['90%'].p99} ms`, `sustained p99 ${lag['90%'].sustainedP99} ms`],
    ['overload at 150% max', `p99 ${lag['150%'].p99} ms`, `max ${lag['150%'].max} ms`, `${lag['150%'].behindRuns} of ${REPEATS} runs fell behind (p99 > 10 ms), every one reported: ${lag['150%'].reportedWhenBehind}`],
    ...(overload ? [[`overload at ${overload.fraction * 100}% max`, `p99 ${overload.p99} ms`, `max ${overload.max} ms`, `${overload.behindRuns} of ${REPEATS} runs fell behind, every one reported: ${overload.reportedWhenBehind} (150% of the top rate was no overload)`]] : []),
    ...populationRows(results.population),
    ['recording overhead (p50 − 20 ms)', `${over.p50OverMs} ms`, `raw floor ${over.rawClientP50OverMs} ms, plain ws client ${over.plainClientP50OverMs} ms`, `over the server's measured hold: ${over.p50OverServerHoldMs} ms (target ≤ 1 ms)`],
    ...messageRows(results),
    ...besideRows,
  ];
  writeTable(machine, rows);
}

/**
 * @param {Machine} machine
 * @param {string[][]} rows
 */
function writeTable(machine, rows) {
  process.stdout.write(`\nwsrace benchmark — ${machine.cpus} cores, ${machine.cpuModel}, node ${machine.node}\n`);
  for (const r of rows) process.stdout.write(`  ${r[0].padEnd(34)} ${r[1].padEnd(16)} ${r[2].padEnd(26)} ${r[3]}\n`);
  process.stdout.write(`\nbench/results.json written (${ROOT}bench/results.json)\n`);
}

/**
 * A BENCH_ONLY part's keys written into bench/results.json, replacing those keys only: the other
 * measurements stay as the last full run left them.
 * @param {Record<string, unknown>} keys
 */
function mergeResults(keys) {
  const file = new URL('./results.json', import.meta.url);
  const previous = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  writeFileSync(file, JSON.stringify({ ...previous, ...keys }, null, 2) + '\n');
}

/** BENCH_ONLY=population: that row alone, merged into the results.json there is. */
async function populationOnly() {
  const machine = measureMachine();
  const population = { date: new Date().toISOString(), machine, ...(await measurePopulation()) };
  mergeResults({ population });
  process.stdout.write(`\nwsrace benchmark (population only) — ${machine.cpus} cores, ${machine.cpuModel}, node ${machine.node}\n`);
  for (const r of populationRows(population)) process.stdout.write(`  ${r[0].padEnd(34)} ${r[1].padEnd(16)} ${r[2].padEnd(26)} ${r[3]}\n`);
  process.stdout.write(`\nbench/results.json written (${ROOT}bench/results.json)\n`);
  process.exit(0);
}

/**
 * BENCH_ONLY=messages: the message part alone, its keys replacing those of bench/results.json
 * (the other measurements there stay as the last full run left them).
 * @param {Machine} machine
 */
async function messagesOnly(machine) {
  const server = await startServer();
  let messages;
  try {
    messages = await measureMessages(machine, server);
  } finally {
    server.stop();
  }
  mergeResults(messages);
  writeTable(machine, messageRows(messages));
}

/**
 * BENCH_ONLY=stream-memory: the message part's memory row alone (a few minutes), its key
 * replacing that of bench/results.json.
 * @param {Machine} machine
 */
async function streamMemoryOnly(machine) {
  const server = await startServer();
  let measured;
  try {
    measured = measureStreamMemory(server);
  } finally {
    server.stop();
  }
  const streamMemory = { date: new Date().toISOString(), machineNoise: machine.noise, ...measured };
  mergeResults({ streamMemory });
  writeTable(machine, [streamMemoryRow(streamMemory)]);
}

/**
 * What raw-floor.mjs and tls-bench.mjs borrow from here: the floor, the climb and its
 * on-schedule rule stay the connection-rate row's.
 * @type {import('./raw-floor.mjs').Kit}
 */
const kit = { floor: (url, seconds, concurrency, ca) => floorRun(url, seconds, concurrency, 0, ca).perSecond, climb: climbWsrace, wsrace, freshSource, log, median, repeats: REPEATS, seconds: SECONDS, quick: QUICK };

/**
 * One of the parts that compare wsrace with others on the box: peers (Artillery 2.x and 1.7.9
 * and Tsung, bench/peers.mjs), raw (the raw floor's top, raw-floor.mjs) or tls (wss://,
 * tls-bench.mjs). Each starts its own server; returns its results.json key and table rows.
 * @param {Machine} machine
 * @param {'peers' | 'raw' | 'tls'} part
 * @returns {Promise<{ keys: Record<string, unknown>, rows: string[][] }>}
 */
async function measurePart(machine, part) {
  const stamp = { date: new Date().toISOString(), machineNoise: machine.noise, repeats: REPEATS, quick: QUICK };
  if (part === 'tls') {
    const tls = { ...stamp, ...(await measureTls(kit, startServer, artilleryTlsRunners(log, freshSource, peerDir()))) };
    return { keys: { tls }, rows: tlsRows(tls) };
  }
  const server = await startServer();
  try {
    if (part === 'raw') {
      const rawFloor = { ...stamp, ...(await measureRawFloor(server, kit)) };
      return { keys: { rawFloor }, rows: rawFloorRows(rawFloor) };
    }
    // A quick run takes 2 repeats unless told (3 of four tools' ladders and holds pass 10 minutes).
    const repeats = QUICK && process.env.BENCH_REPEATS === undefined ? 2 : REPEATS;
    const peers = { machineNoise: machine.noise, ...(await measurePeers({ server, floor, wsrace, onSchedule, freshSource, artillery1: peerDir(), log, quick: QUICK, repeats })) };
    return { keys: { peers }, rows: peerRows(peers) };
  } finally {
    server.stop();
  }
}

/**
 * BENCH_ONLY=peers, raw or tls: that part alone, its key replacing that of bench/results.json,
 * as BENCH_ONLY=messages does.
 * @param {Machine} machine
 * @param {'peers' | 'raw' | 'tls'} part
 */
async function partOnly(machine, part) {
  const { keys, rows } = await measurePart(machine, part);
  mergeResults(keys);
  writeTable(machine, rows);
}

async function main() {
  if (ONLY === 'population') return populationOnly();
  const machine = measureMachine();
  if (ONLY === 'messages') {
    await messagesOnly(machine);
    process.exit(0);
  }
  if (ONLY === 'stream-memory') {
    await streamMemoryOnly(machine);
    process.exit(0);
  }
  if (ONLY === 'peers' || ONLY === 'raw' || ONLY === 'tls') {
    await partOnly(machine, ONLY);
    process.exit(0);
  }
  if (ONLY !== undefined) throw new Error(`BENCH_ONLY=${ONLY}: expected messages, stream-memory, population, peers, raw or tls (or no BENCH_ONLY for the whole bench)`);
  const server = await startServer();
  const slow = await startServer(['--delay-101', '20']);
  let results;
  try {
    results = await measure(machine, server, slow);
  } finally {
    server.stop();
    slow.stop();
  }
  // The parts beside the other tools, each with its own server, after the rest.
  /** @type {Record<string, unknown>} */
  let beside = {};
  /** @type {string[][]} */
  const besideRows = [];
  for (const part of /** @type {const} */ (['peers', 'raw', 'tls'])) {
    const { keys, rows } = await measurePart(machine, part);
    beside = { ...beside, ...keys };
    besideRows.push(...rows);
  }
  writeFileSync(new URL('./results.json', import.meta.url), JSON.stringify({ ...results, ...beside }, null, 2) + '\n');
  printTable(results, besideRows);
  process.exit(0);
}

main().catch((err) => {
  log(err.stack ?? String(err));
  process.exit(1);
});
