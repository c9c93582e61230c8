// One wsrace run against the bench echo server, for profiling (node --cpu-prof bench/profile-run.mjs RATE SECONDS).
// Prints schedule lag per second of the run, from events.ndjson.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseScenarioText } from '../dist/scenario/load.js';
import { runScenario } from '../dist/run/run.js';

const [rate, seconds, workers] = [Number(process.argv[2] ?? 1200), Number(process.argv[3] ?? 5), Number(process.argv[4] ?? 2)];
const child = spawn(process.execPath, [fileURLToPath(new URL('./echo-server.mjs', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
const out = `${os.tmpdir()}/wsrace-profile-${process.pid}`;
const loaded = parseScenarioText(`name: p\ntarget:\n  url: ws://127.0.0.1:${port}/ws\nload:\n  stages: [{ duration: ${seconds}s, rate: ${rate} }]\nsession:\n  hold: 0ms\n`, 'p.yaml');
const { summary } = await runScenario(loaded, { outDir: out, workers });
child.kill('SIGTERM');
const lags = new Map();
for (const line of readFileSync(`${out}/events.ndjson`, 'utf8').trim().split('\n')) {
  const e = JSON.parse(line);
  const s = Math.floor(e.sched / 1000);
  if (!lags.has(s)) lags.set(s, []);
  lags.get(s).push(e.start - e.sched);
}
for (const [s, l] of [...lags].sort((a, b) => a[0] - b[0])) {
  l.sort((a, b) => a - b);
  console.log(`second ${s}: n ${l.length} lag p50 ${l[Math.floor(l.length / 2)].toFixed(2)} p99 ${l[Math.floor(l.length * 0.99)].toFixed(2)} max ${l[l.length - 1].toFixed(2)}`);
}
console.log('summary lag', JSON.stringify(summary.scheduleLagMs), 'closed', JSON.stringify(summary.totals.closeCodes), 'errors', JSON.stringify(summary.totals.errorCodes));
process.exit(0);
