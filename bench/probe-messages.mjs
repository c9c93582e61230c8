// One message rate, looked at closely: node bench/probe-messages.mjs RATE [SECONDS] [floor|wsrace|both]
// Starts the bench echo server, then (as the bench's message ladder does at one rung) the plain
// ws loop (bench/stream-floor.mjs) and/or wsrace with 2,000 sockets streaming at RATE messages a
// second for SECONDS (default 4), and prints each one's outcome with the CPU seconds of every
// thread, its own and the server's, and the CPU microseconds per message: a measure of the work
// that the machine's noise does not change. Add `node --cpu-prof` to profile wsrace's threads
// (one .cpuprofile per thread); PROBE_OUT keeps wsrace's run folder; PROBE_WORKERS sets its workers.
import { spawn, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { threadCpu as cpu, cpuDelta as delta } from './thread-cpu.mjs';
import { parseScenarioText } from '../dist/scenario/load.js';
import { runScenario } from '../dist/run/run.js';

const SOCKETS = 2000;
const [rate, seconds, which] = [Number(process.argv[2] ?? 20_000), Number(process.argv[3] ?? 4), process.argv[4] ?? 'both'];
const every = +((SOCKETS * 1000) / rate).toFixed(3);
const server = spawn(process.execPath, [fileURLToPath(new URL('./echo-server.mjs', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
process.on('exit', () => server.kill('SIGTERM'));
const port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
const url = `ws://127.0.0.1:${port}/ws`;
// Source addresses of this probe's own: earlier runs' TIME_WAIT ports slow connect().
const source = (/** @type {number} */ k) => `127.0.${1 + (process.pid % 200)}.${10 + k}`;

/** @param {number} s @param {number} messages */
const perMessageUs = (s, messages) => (messages > 0 ? +((s * 1e6) / messages).toFixed(1) : null);

if (which !== 'wsrace') {
  const serverBefore = cpu(server.pid);
  const f = JSON.parse(String(execFileSync(process.execPath, [fileURLToPath(new URL('./stream-floor.mjs', import.meta.url)), url, String(SOCKETS), String(every), String(seconds), '1', source(0)])));
  const serverS = delta(serverBefore, cpu(server.pid)).total ?? 0;
  console.log(`floor at ${rate}/s (every ${every} ms): ${JSON.stringify(f)}`);
  console.log(`  floor CPU ${f.cpuS} s (its process, opening included) = ${perMessageUs(f.cpuS, f.replied)} µs per round trip; while every socket streamed ${f.streamCpuUsPerMessage} µs; server ${serverS} s = ${perMessageUs(serverS, f.replied)} µs`);
}
if (which !== 'floor') {
  const text = `name: probe-messages\ntarget:\n  url: ${url}\n  handshakeTimeout: 20s\n  localAddresses: ["${source(1)}"]\nload:\n  stages: [{ duration: 1s, rate: ${SOCKETS} }]\n  maxConnections: ${SOCKETS}\nsession:\n  hold: ${seconds}s\n  stream: { every: ${every}ms }\n`;
  const outDir = process.env.PROBE_OUT ?? `${os.tmpdir()}/wsrace-probe-messages-${process.pid}`;
  const before = cpu(process.pid);
  const serverBefore = cpu(server.pid);
  /** @type {Record<string, number>} */
  const seen = {}; // worker threads exit with the run: sample them while they live
  let endOfStream = 0;
  /** @type {{ at: number, openNow: number, hrUs: number, threads: Record<string, number>, server: number }[]} */
  const samples = []; // once a second, for the CPU of the window in which every socket streams
  const sampler = setInterval(() => Object.assign(seen, cpu(process.pid)), 500);
  const { summary } = await runScenario(parseScenarioText(text, 'probe-messages.yaml'), {
    outDir,
    ...(process.env.PROBE_WORKERS ? { workers: Number(process.env.PROBE_WORKERS) } : {}),
    onProgress: (p) => {
      endOfStream = Date.now();
      samples.push({ at: p.elapsedMs, openNow: p.openNow, hrUs: Number(process.hrtime.bigint() / 1000n), threads: cpu(process.pid), server: cpu(server.pid).total });
    },
  });
  clearInterval(sampler);
  const reportS = (Date.now() - endOfStream) / 1000;
  const after = { ...seen, ...cpu(process.pid) };
  const serverS = delta(serverBefore, cpu(server.pid)).total ?? 0;
  const m = summary.messages;
  const threads = delta(before, after);
  console.log(`wsrace at ${rate}/s (every ${every} ms): ${JSON.stringify({ sent: m?.sent, replied: m?.replied, late: m?.late, lost: m?.lost, sendLagMs: m?.sendLagMs, rttMs: m?.rttMs, loopDelayMs: summary.loopDelayMs, closeCodes: summary.totals.closeCodes, errors: Object.fromEntries(Object.entries(summary.totals.errors).filter(([, n]) => n > 0)), upgradeMs: summary.upgradeMs })}`);
  const replied = m?.replied ?? 0;
  // The worker: the busiest thread born during the run (Node names every thread "node").
  const worker = Math.max(0, ...Object.entries(threads).filter(([k]) => !(k in before) && k !== 'total').map(([, v]) => v));
  console.log(`  wsrace CPU s by thread (the run's end, ~${reportS.toFixed(1)} s of writing its report, included): ${JSON.stringify(threads)}`);
  console.log(`  worker thread ${worker.toFixed(2)} s = ${perMessageUs(worker, replied)} µs per round trip; process ${threads.total} s = ${perMessageUs(threads.total ?? 0, replied)} µs; server ${serverS} s = ${perMessageUs(serverS, replied)} µs`);
  // The window in which every socket is open and streaming (on a busy machine the opening can take seconds).
  const a = samples.find((x) => x.openNow === SOCKETS);
  const b = [...samples].reverse().find((x) => x.openNow === SOCKETS);
  if (!a || !b || b.at <= a.at) console.log(`  no two progress samples with all ${SOCKETS} sockets open: no CPU per message while streaming`);
  else {
    const messages = (rate * (b.at - a.at)) / 1000;
    const us = Object.fromEntries(Object.entries(delta(a.threads, b.threads)).map(([k, v]) => [k, perMessageUs(v, messages)]));
    console.log(`  while every socket streamed (${((b.at - a.at) / 1000).toFixed(1)} s; monotonic µs ${a.hrUs} to ${b.hrUs}, the clock of a .cpuprofile's timestamps): CPU µs per message by thread ${JSON.stringify(us)}; server ${perMessageUs(b.server - a.server, messages)} µs`);
  }
  if (!process.env.PROBE_OUT) rmSync(outDir, { recursive: true, force: true });
}
process.exit(0);
