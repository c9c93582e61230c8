// wsrace holding SOCKETS sockets, for the peers' memory row (bench/peers.mjs), which measures
// every tool the same way from outside: 2 sockets over the first 2 s (the idle baseline, with
// the worker threads up), then 2,000/s until SOCKETS are open, each held 600 s. Runs until
// killed (bounded: it stops itself after 120 s).
//   node bench/peer-hold-wsrace.mjs URL SOCKETS SOURCES   (SOURCES: addresses separated by commas)
import os from 'node:os';
import { rmSync } from 'node:fs';
import { parseScenarioText } from '../dist/scenario/load.js';
import { runScenario } from '../dist/run/run.js';

const [url, sockets, sources] = [process.argv[2], Number(process.argv[3]), process.argv[4].split(',')];
const text = `name: peer-hold\ntarget:\n  url: ${url}\n  handshakeTimeout: 20s\n  localAddresses: ${JSON.stringify(sources)}\nload:\n  stages: [{ duration: 2s, rate: 1 }, { duration: ${Math.ceil(sockets / 2000)}s, rate: 2000 }]\n  maxConnections: ${sockets + 2}\nsession:\n  hold: 600s\ndrainTimeout: 1s\n`;
const outDir = `${os.tmpdir()}/wsrace-bench-hold-${process.pid}`;
const controller = new AbortController();
setTimeout(() => controller.abort('bench: time is up'), 120_000).unref();
process.on('exit', () => rmSync(outDir, { recursive: true, force: true }));
process.on('SIGTERM', () => process.exit(0));
await runScenario(parseScenarioText(text, 'peer-hold.yaml'), { outDir, workers: Number(process.env.BENCH_WORKERS ?? Math.max(1, os.availableParallelism() - 1)), signal: controller.signal });
process.exit(0);
