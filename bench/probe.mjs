// One rate, looked at closely: node bench/probe.mjs RATE SECONDS WORKERS [SPIN]
// Starts the bench echo server, warms it (2 s at 1,500/s, so the target's own JIT warm-up is not
// measured), runs wsrace at RATE for SECONDS, and prints the schedule lag per 500 ms and the CPU
// seconds of every thread of wsrace and of the server, and how late the server's 101s came per 500 ms.
// Add `node --cpu-prof` to profile it. PROBE_SERVER_FLAGS are node's flags for the server,
// PROBE_SERVER_ARGS the server's own (e.g. `--delay-101 200`); PROBE_OUT keeps the run's folder.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { threadCpu as cpu, cpuDelta as delta } from './thread-cpu.mjs';
import { parseScenarioText } from '../dist/scenario/load.js';
import { runScenario } from '../dist/run/run.js';

const [rate, seconds, workers] = [Number(process.argv[2] ?? 1200), Number(process.argv[3] ?? 4), Number(process.argv[4] ?? 1)];
// The spin budget (--spin); with 0 a worker's CPU time is its work alone, not its busy-waiting.
const spinBudget = process.argv[5] !== undefined ? Number(process.argv[5]) : undefined;
const server = spawn(process.execPath, [...(process.env.PROBE_SERVER_FLAGS ?? '').split(' ').filter(Boolean), fileURLToPath(new URL('./echo-server.mjs', import.meta.url)), ...(process.env.PROBE_SERVER_ARGS ?? '').split(' ').filter(Boolean)], { stdio: ['ignore', 'pipe', 'inherit'] });
process.on('exit', () => server.kill('SIGTERM'));
const port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
// A source address of this probe's own: earlier runs' TIME_WAIT ports on 127.0.0.1 slow connect().
const source = `127.0.0.${10 + (process.pid % 240)}`;
/**
 * @param {number} r
 * @param {number} s
 */
const scenario = (r, s) => parseScenarioText(`name: probe\ntarget:\n  url: ws://127.0.0.1:${port}/ws\n  localAddresses: ["${source}"]\nload:\n  stages: [{ duration: ${s}s, rate: ${r} }]\nsession:\n  hold: 0ms\n`, 'probe.yaml');


await runScenario(scenario(1500, 2), { outDir: `${os.tmpdir()}/wsrace-probe-warm-${process.pid}`, workers, spinBudget });
const outDir = process.env.PROBE_OUT ?? `${os.tmpdir()}/wsrace-probe-${process.pid}`;
const before = cpu(process.pid);
const serverBefore = cpu(server.pid);
/** @type {Record<string, number>} */
const seen = {}; // worker threads exit with the run: sample them while they live
const sampler = setInterval(() => Object.assign(seen, cpu(process.pid)), 100);
const started = Date.now();
const { summary } = await runScenario(scenario(rate, seconds), { outDir, workers, spinBudget });
clearInterval(sampler);
const wall = (Date.now() - started) / 1000;
const after = { ...seen, ...cpu(process.pid) };
const serverAfter = cpu(server.pid);

/** @typedef {{ sched: number, start: number | null, tcp: number | null, up: number | null }} EventLine  the fields of an events.ndjson line read here */
/** @type {EventLine[]} */
const events = readFileSync(`${outDir}/events.ndjson`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const first = Math.min(...events.map((e) => e.sched));
/**
 * `pick(e)` of every event, by the half-second of its scheduled start; null picks are left out.
 * @param {(e: EventLine) => number | null} pick
 */
const perHalfSecond = (pick) => {
  /** @type {number[][]} */
  const out = [];
  for (const e of events) {
    const v = pick(e);
    if (v !== null) (out[Math.floor((e.sched - first) / 500)] ??= []).push(v);
  }
  return out;
};
// A dropped attempt never started: it has no lag.
const windows = perHalfSecond((e) => (e.start === null ? null : e.start - e.sched));
/**
 * @param {readonly number[]} xs
 * @param {number} p
 */
const q = (xs, p) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(p * xs.length))].toFixed(1);
console.log(`rate ${rate}/s for ${seconds} s on ${workers} worker(s): wall ${wall} s; lag p50 ${summary.scheduleLagMs.p50} p99 ${summary.scheduleLagMs.p99} max ${summary.scheduleLagMs.max} ms; close codes ${JSON.stringify(summary.totals.closeCodes)} of ${summary.totals.attempted}`);
const sustained = events.flatMap((e) => (e.sched - first >= 1000 && e.start !== null ? [e.start - e.sched] : []));
console.log(`sustained lag (after the first second) p99 ${q(sustained, 0.99)} ms`);
console.log(`totals: ${JSON.stringify({ ...summary.totals, closeCodes: undefined })}`);
console.log(`lag p99 per 500 ms: ${windows.map((w) => q(w, 0.99)).join(' ')}`);
console.log(`lag max per 500 ms: ${windows.map((w) => q(w, 1)).join(' ')}`);
// The target's side of the same half-seconds: a late 101 keeps sockets (and the worker's GC survivors) alive longer.
const answers = perHalfSecond((e) => (e.tcp !== null && e.up !== null ? e.up - e.tcp : null));
console.log(`request → 101 p90 per 500 ms: ${answers.map((w) => (w ? q(w, 0.9) : '-')).join(' ')}`);
console.log(`wsrace CPU s (worker warm-up included): ${JSON.stringify(delta(before, after))}`);
console.log(`server CPU s: ${JSON.stringify(delta(serverBefore, serverAfter))}`);
process.exit(0);
