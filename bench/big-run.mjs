// `wsrace merge` and `wsrace compare` on a run of any size: makes a synthetic sharded run of N
// attempts (bench/synthetic-run.mjs), merges it and compares the merged run with shard 0, each in
// its own process, and reports each process's peak RSS (VmHWM from /proc, read as it exits) and
// wall time. Goal: ≤ 512 MiB each at 10 million attempts. Numbers: docs/performance.md ("Runs of
// any size"). Usage:
//   node bench/big-run.mjs [--attempts 10000000] [--shards 4] [--rate 20000] [--dir DIR] [--keep]
// Needs `npm run build` first (it imports dist/), and about 600 bytes of disk per attempt at its peak (shards, merged run, the sort's runs).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recorderNodeFlags } from '../dist/run/node-flags.js';
import { writeSyntheticRun } from './synthetic-run.mjs';

const WSRACE = fileURLToPath(new URL('../bin/wsrace.js', import.meta.url));
/** The flags `wsrace` starts node with (bin/wsrace.js), so the memory measured is the one users get. */
const NODE_FLAGS = recorderNodeFlags();
const HWM_HOOK = fileURLToPath(new URL('./hwm-on-exit.cjs', import.meta.url));
const MiB = 1024 * 1024;

/** @param {string[]} argv */
function parseArgs(argv) {
  const o = { attempts: 10_000_000, shards: 4, rate: 20_000, dir: '', keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--keep') o.keep = true;
    else if (a === '--dir') o.dir = argv[++i];
    else if (a === '--attempts' || a === '--shards' || a === '--rate') o[/** @type {'attempts'|'shards'|'rate'} */ (a.slice(2))] = Number(argv[++i]);
    else throw new Error(`big-run: unknown argument ${a}`);
  }
  if (!(o.attempts > 0 && o.shards > 0 && o.rate > 0)) throw new Error('big-run: --attempts, --shards and --rate must be positive numbers');
  return o;
}

/**
 * Runs `wsrace <args>` and resolves with its exit code, peak RSS (MiB) and wall seconds. The
 * peak is what the process's own exit hook read from /proc/self/status (VmHWM), so growth in
 * its last moments is counted, not sampled away.
 * @param {string[]} args
 * @param {string} hwmFile
 * @returns {Promise<{ code: number | null, peakMiB: number, seconds: number, stderr: string }>}
 */
function measure(args, hwmFile) {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_FLAGS, '--require', HWM_HOOK, WSRACE, ...args], { env: { ...process.env, WSRACE_HWM_FILE: hwmFile }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const kib = Number(/VmHWM:\s*(\d+) kB/.exec(readFileSync(hwmFile, 'utf8'))?.[1] ?? NaN);
      resolve({ code, peakMiB: Math.round((kib * 1024) / MiB), seconds: Math.round(seconds * 10) / 10, stderr });
    });
  });
}

const o = parseArgs(process.argv.slice(2));
const root = o.dir || mkdtempSync(join(os.tmpdir(), 'wsrace-big-run-'));
mkdirSync(root, { recursive: true });
const t = Date.now();
const dirs = writeSyntheticRun(root, { attempts: o.attempts, shards: o.shards, rate: o.rate });
const makeSeconds = (Date.now() - t) / 1000;
const eventsMiB = dirs.reduce((n, d) => n + statSync(join(d, 'events.ndjson')).size, 0) / MiB;
console.log(`made ${o.attempts} attempts in ${o.shards} shards under ${root} in ${makeSeconds.toFixed(1)} s (events.ndjson ${eventsMiB.toFixed(0)} MiB in all)`);

const merged = join(root, 'merged');
const merge = await measure(['merge', ...dirs, '--out', merged], join(root, 'merge.hwm'));
console.log(`merge:   exit ${merge.code}, peak RSS ${merge.peakMiB} MiB, ${merge.seconds} s`);
// compare exits 1 on a regression; the shard and the merged run differ, so any code but 2 is a run that finished.
const compare = await measure(['compare', dirs[0], merged], join(root, 'compare.hwm'));
console.log(`compare: exit ${compare.code}, peak RSS ${compare.peakMiB} MiB, ${compare.seconds} s`);
for (const [name, r] of /** @type {const} */ ([['merge', merge], ['compare', compare]])) if (r.code !== 0 && !(name === 'compare' && r.code === 1)) console.error(`${name} failed:\n${r.stderr}`);

const result = { attempts: o.attempts, shards: o.shards, rate: o.rate, eventsMiB: Math.round(eventsMiB), makeSeconds, merge: { code: merge.code, peakMiB: merge.peakMiB, seconds: merge.seconds }, compare: { code: compare.code, peakMiB: compare.peakMiB, seconds: compare.seconds }, goalMiB: 512, node: process.version, at: new Date().toISOString() };
writeFileSync(join(root, 'big-run.json'), JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result));
if (!o.keep) rmSync(root, { recursive: true, force: true });
process.exitCode = merge.peakMiB <= 512 && compare.peakMiB <= 512 && merge.code === 0 && (compare.code === 0 || compare.code === 1) ? 0 : 1;
