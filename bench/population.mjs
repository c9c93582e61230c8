// The bench's population row: N connected clients, each with a stream, held through a rollout of
// the simulator (`wsrace sim --profile rollout --processes S`), wsrace as `--processes P` with
// source addresses across 127.0.1.0/24. Measures wsrace's RSS per client and whether every
// reconnect attempt started on its backoff schedule while the herd ran. Traffic to 127.0.0.0/8
// only; every wait is bounded. Method and numbers: docs/performance.md ("A connected population").
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { recorderNodeFlags } from '../dist/run/node-flags.js';

const WSRACE = fileURLToPath(new URL('../bin/wsrace.js', import.meta.url));
/** The flags `wsrace` starts node with (bin/wsrace.js), so the run is the one users get. */
const NODE_FLAGS = recorderNodeFlags();

/**
 * How a population run is laid out in time (wall seconds after the simulator's start): wsrace's
 * processes come up (~1 s, then their 2 s + 1 s each lead), the clients connect at `rate` per
 * second, all are held a while, then B starts, traffic moves at B's health (~2 s later at 1/10
 * scale) and A closes its sockets 1012 over `drainS`; the clients reconnect and stay until the end.
 * @param {number} clients
 * @param {number} wsraceProcesses
 */
export function populationPlan(clients, wsraceProcesses) {
  const rate = 1000;
  const overS = Math.max(1, Math.ceil(clients / rate));
  const startS = 1 + 2 + wsraceProcesses + 2; // spawn, lead, slack for a busy machine
  const rolloutS = startS + overS + 6;
  const drainS = Math.max(2, Math.ceil(clients / 1000));
  const durationS = rolloutS - startS + 2 + drainS + 15;
  return { overS, rolloutS, drainS, durationS };
}

/** @param {number} pid */
function parentOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}
/** @param {number} pid bytes resident, 0 once gone */
function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
/**
 * A process and every process under it.
 * @param {number} root
 */
function tree(root) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ppid = parentOf(pid);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(pid);
  }
  const out = [root];
  for (let i = 0; i < out.length && i < 1000; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}
/** @param {number} root */
export const treeRss = (root) => tree(root).reduce((sum, pid) => sum + rssOf(pid), 0);

/**
 * Starts `wsrace sim --processes S` and resolves with its URL from its stderr line.
 * @param {string[]} args
 * @returns {Promise<{ url: string, child: import('node:child_process').ChildProcess, startedAt: number }>}
 */
function startSim(args) {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [...NODE_FLAGS, WSRACE, 'sim', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the simulator did not start in 30 s')), 30_000);
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d) => {
      err += d;
      const m = /listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child, startedAt });
      }
    });
    child.once('exit', (code) => reject(new Error(`the simulator exited (${code}): ${err.slice(-500)}`)));
  });
}

/**
 * The retries' schedule lag (start − the backoff's due time) and the first attempts', from
 * events.ndjson: a retry has `try` ≥ 1; a dropped attempt (never started) has no lag. And how
 * long the target took to answer the retries' upgrades (start → 101): what a favoured wsrace
 * costs a target on the same machine.
 * @param {string} file
 */
function lagsOf(file) {
  /** @type {number[]} */
  const retries = [];
  /** @type {number[]} */
  const first = [];
  /** @type {number[]} */
  const retryUpgrades = [];
  const text = readFileSync(file, 'utf8');
  for (let at = 0, n = 0; at < text.length && n < 10_000_000; n++) {
    const end = text.indexOf('\n', at);
    const line = text.slice(at, end < 0 ? text.length : end);
    at = end < 0 ? text.length : end + 1;
    if (!line) continue;
    const e = JSON.parse(line);
    if (e.start === null || e.client === undefined) continue;
    ((e.try ?? 0) >= 1 ? retries : first).push(e.start - e.sched);
    if ((e.try ?? 0) >= 1 && typeof e.up === 'number') retryUpgrades.push(e.up - e.start);
  }
  return { retries: quantiles(retries), first: quantiles(first), retryUpgrades: quantiles(retryUpgrades) };
}
/** @param {number[]} xs */
function quantiles(xs) {
  xs.sort((a, b) => a - b);
  /** @param {number} q */
  const at = (q) => (xs.length ? +xs[Math.min(xs.length - 1, Math.floor(q * xs.length))].toFixed(3) : null);
  return { count: xs.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: xs.length ? +xs[xs.length - 1].toFixed(3) : null };
}

/**
 * The closes revision A made, summed over the simulator processes' truth files.
 * @param {string} dir
 */
function truthCloses(dir) {
  let closes = 0;
  let conns = 0;
  for (const f of readdirSync(dir).filter((x) => /^truth\.\d+\.ndjson$/.test(x))) {
    for (const line of readFileSync(`${dir}/${f}`, 'utf8').split('\n')) {
      if (line.startsWith('{"type":"close"')) closes++;
      else if (line.startsWith('{"type":"conn"')) conns++;
    }
  }
  return { closes, conns };
}

/**
 * One population run of `clients` through a rollout.
 * @param {{ clients: number, wsraceProcesses: number, simProcesses: number, sources: string, nice?: number }} o
 *   nice: wsrace's --nice (its default otherwise)
 */
export async function populationRun({ clients, wsraceProcesses, simProcesses, sources, nice }) {
  const plan = populationPlan(clients, wsraceProcesses);
  const dir = `${os.tmpdir()}/wsrace-bench-population-${process.pid}-${Date.now()}`;
  mkdirSync(dir, { recursive: true });
  const perSim = Math.min(19_000, Math.ceil((clients * 1.3) / simProcesses));
  const sim = await startSim(['--profile', 'rollout', '--processes', String(simProcesses), '--port', '0', '--time-scale', '0.1', '--rollout-at', `${plan.rolloutS * 10}s`, '--new', 'racy', '--drain', '1012', '--drain-over', `${plan.drainS * 10}s`, '--max-connections', String(perSim), '--truth', `${dir}/truth.ndjson`]);
  const scenario = `${dir}/population.yaml`;
  writeFileSync(scenario, `name: bench-population\ntarget:\n  url: ${sim.url}\n  handshakeTimeout: 10s\nload:\n  population: { clients: ${clients}, over: ${plan.overS}s }\n  duration: ${plan.durationS}s\nsession:\n  stream: { every: 10s, within: 5s }\ndrainTimeout: 10s\n`);
  const wsraceAt = Date.now();
  // BENCH_POPULATION_SPIN: wsrace's --spin for this row (its default otherwise: 0.25 for 3 processes of one worker on 2 cores).
  const spin = process.env.BENCH_POPULATION_SPIN ? ['--spin', process.env.BENCH_POPULATION_SPIN] : [];
  const niceArgs = nice === undefined ? [] : [`--nice=${nice}`];
  const child = spawn(process.execPath, [...NODE_FLAGS, WSRACE, 'run', scenario, '--processes', String(wsraceProcesses), '--local-address', sources, '--out', `${dir}/run`, ...spin, ...niceArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  /** @type {{ at: number, wsrace: number, sim: number }[]} */
  const samples = [];
  const sampler = setInterval(() => samples.push({ at: Date.now(), wsrace: treeRss(child.pid ?? -1), sim: treeRss(sim.child.pid ?? -1) }), 1000);
  const limitMs = (plan.durationS + 60) * 1000;
  const code = await new Promise((resolve) => {
    const timer = setTimeout(() => (child.kill('SIGINT'), resolve('timeout')), limitMs);
    child.once('exit', (c) => (clearTimeout(timer), resolve(c)));
  });
  clearInterval(sampler);
  sim.child.kill('SIGTERM');
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 20_000);
    sim.child.once('exit', () => (clearTimeout(timer), resolve(null)));
  });
  if (!existsSync(`${dir}/run/summary.json`)) throw new Error(`wsrace run (${code}) left no summary: ${stderr.slice(-1000)}`);
  const summary = JSON.parse(readFileSync(`${dir}/run/summary.json`, 'utf8'));
  return { plan, dir, code, summary, clients: shardClients(`${dir}/run`, wsraceProcesses), samples, wsraceAt, simAt: sim.startedAt, lags: lagsOf(`${dir}/run/events.ndjson`), truth: truthCloses(dir) };
}

/**
 * summary.clients' counts summed over the shards' own summaries (the merged summary has a
 * `clients` block too now, followed again from events.ndjson; the bench keeps the shards' sums).
 * @param {string} runDir
 * @param {number} n
 */
function shardClients(runDir, n) {
  /** @type {Record<string, number>} */
  const sum = {};
  for (let k = 0; k < n; k++) {
    const file = `${runDir}/shard-${k}/summary.json`;
    if (!existsSync(file)) continue;
    const c = JSON.parse(readFileSync(file, 'utf8')).clients ?? {};
    for (const [key, v] of Object.entries(c)) if (typeof v === 'number') sum[key] = (sum[key] ?? 0) + v;
  }
  return sum;
}

/**
 * Memory per client from the samples: idle (the last sample before T0, wsrace's processes up and
 * warm), connected (the largest sample after every client connected and before the rollout), and
 * the peak (the herd included).
 * @param {Awaited<ReturnType<typeof populationRun>>} r
 * @param {number} clients
 */
export function memoryOf(r, clients) {
  const t0 = r.summary.t0EpochMs;
  const before = r.samples.filter((s) => s.at < t0);
  const idle = before.length ? before[before.length - 1].wsrace : 0;
  const connectedFrom = t0 + r.plan.overS * 1000 + 1000;
  const rolloutAt = r.simAt + r.plan.rolloutS * 1000;
  const held = r.samples.filter((s) => s.at >= connectedFrom && s.at < rolloutAt);
  const connected = held.length ? Math.max(...held.map((s) => s.wsrace)) : 0;
  const peak = Math.max(0, ...r.samples.map((s) => s.wsrace));
  const simPeak = Math.max(0, ...r.samples.map((s) => s.sim));
  /** @param {number} b */
  const mib = (b) => +(b / 2 ** 20).toFixed(1);
  return { idleMiB: mib(idle), connectedMiB: mib(connected), peakMiB: mib(peak), simPeakMiB: mib(simPeak), bytesPerClient: Math.round((connected - idle) / clients), bytesPerClientWithIdle: Math.round(connected / clients), bytesPerClientAtPeak: Math.round((peak - idle) / clients), heldSamples: held.length };
}
