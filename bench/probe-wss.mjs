// wss:// by hand (not part of `npm run bench`; run `npm run build` first, it imports ../dist):
//   node bench/probe-wss.mjs SECONDS RATE [RATE...]
// Makes a P-256 certificate for 127.0.0.1 (tls-bench.mjs: openssl, else node's crypto), starts the bench echo server with it
// (--tls), warms the server (2 s at 300/s, so its JIT warm-up is not measured), then runs wsrace
// (one worker, its defaults, `target.tls.ca` set to the certificate) at each RATE for SECONDS from
// a source address of its own, and prints a JSON line per rate: closes, errors, schedule lag, the
// TLS and whole handshake, and the CPU seconds of wsrace's process (its warm-up and report
// writing included) and of the server. onSchedule: the bench's bar, every attempt closed 1000
// and lag p99 ≤ 10 ms. PROBE_SPIN=0 runs the worker without its spin (--spin), so that its CPU
// time is its work alone.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenarioText } from '../dist/scenario/load.js';
import { runScenario } from '../dist/run/run.js';
import { makeCertificate } from './tls-bench.mjs';

const seconds = Number(process.argv[2] ?? 4);
const rates = process.argv.slice(3).map(Number);
if (!(seconds > 0 && seconds <= 60) || rates.length === 0 || rates.some((r) => !(r > 0 && r <= 5000))) {
  console.error('usage: node bench/probe-wss.mjs SECONDS(≤ 60) RATE(≤ 5000) [RATE...]');
  process.exit(2);
}
const dir = mkdtempSync(join(os.tmpdir(), 'wsrace-wss-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true })); // the key too
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
makeCertificate(dir);
const server = spawn(process.execPath, [fileURLToPath(new URL('./echo-server.mjs', import.meta.url)), '--tls', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
process.on('exit', () => server.kill('SIGTERM'));
const port = await new Promise((resolve, reject) => {
  server.stdout.once('data', (d) => resolve(Number(String(d).trim())));
  server.once('exit', (code) => reject(new Error(`the echo server exited (${code}) before listening`)));
});
if (!Number.isInteger(port) || port <= 0) throw new Error(`the echo server did not report its port (got ${port})`);
const spinBudget = process.env.PROBE_SPIN !== undefined ? Number(process.env.PROBE_SPIN) : undefined;

/** @param {number | undefined} pid */
const cpuSeconds = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in USER_HZ
};
/** @param {number | null | undefined} x */
const round = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);
let runs = 0;
/**
 * @param {number} rate
 * @param {number} secs
 */
async function run(rate, secs) {
  // A source address per run: earlier runs' TIME_WAIT ports on one address slow connect().
  const source = `127.0.0.${20 + ((process.pid + runs++) % 200)}`;
  const yaml = `name: probe-wss\ntarget:\n  url: wss://127.0.0.1:${port}/ws\n  localAddresses: ["${source}"]\n  tls: { ca: cert.pem }\nload:\n  stages: [{ duration: ${secs}s, rate: ${rate} }]\nsession:\n  hold: 0ms\n`;
  const [client0, server0] = [cpuSeconds(process.pid), cpuSeconds(server.pid)];
  const { summary: s } = await runScenario(parseScenarioText(yaml, join(dir, 'probe-wss.yaml')), { outDir: join(dir, `run-${runs}`), workers: 1, spinBudget });
  return {
    rate,
    closed1000: s.totals.closeCodes['1000'] ?? 0,
    scheduled: s.schedule.scheduled,
    errors: s.totals.errorCodes,
    lagP99: round(s.scheduleLagMs.p99),
    lagMax: round(s.scheduleLagMs.max),
    tlsP50: round(s.tlsHandshakeMs.p50),
    tlsP99: round(s.tlsHandshakeMs.p99),
    handshakeP50: round(s.handshakeMs.p50),
    handshakeP99: round(s.handshakeMs.p99),
    wsraceCpuS: round(cpuSeconds(process.pid) - client0),
    serverCpuS: round(cpuSeconds(server.pid) - server0),
  };
}

await run(300, 2);
for (const rate of rates) {
  const r = await run(rate, seconds);
  const onSchedule = r.closed1000 === r.scheduled && r.lagP99 !== null && r.lagP99 <= 10;
  console.log(JSON.stringify({ ...r, onSchedule }));
}
process.exit(0);
