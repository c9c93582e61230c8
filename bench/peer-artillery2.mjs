// A peer on the same schedule: Artillery 2.x (its `ws` engine, open model, arrivalRate), run
// under the Node ≥ 22 it needs. Like bench/peer-artillery.cjs for 1.x, it drives Artillery's own
// runner in this process — what Artillery 2's CLI runs in its one worker thread on a 2-core
// machine (it uses cores − 1) — and timestamps every socket's creation, since Artillery 2 has no
// schedule-lag metric: lag = creation − (origin + k / rate), against the origin most favourable
// to it. Its ws engine takes its WebSocket class from an exported `_deps` object (for its own
// tests); a subclass put there notes each socket's moments.
//   node22 bench/peer-artillery2.mjs ARTILLERY_DIR URL RATE SECONDS [SOURCE]
// prints {"scheduled","created","opened","closed","errors","lagP50","lagP99","sustainedP99","lagMax","wallS","version"}.
//   node22 bench/peer-artillery2.mjs ARTILLERY_DIR URL hold SOCKETS SOURCE
// opens SOCKETS sockets (2 over 2 s first, the idle baseline's, then 2,000/s) and holds them,
// printing {"open":N} every 250 ms until killed (bounded: it exits after 120 s).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';

/** @type {typeof import('./peer-timing.cjs')} */
const { timedSockets, lagStats } = createRequire(import.meta.url)('./peer-timing.cjs');

const [dir, url, mode, countArg, source] = process.argv.slice(2);
const hold = mode === 'hold';
const [rate, seconds] = hold ? [2000, Math.ceil(Number(countArg) / 2000)] : [Number(mode), Number(countArg)];
process.env.ARTILLERY_DISABLE_TELEMETRY = 'true';
const version = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')).version;
/** @type {{ _deps: { WebSocket: new (...args: ConstructorParameters<typeof import('ws').WebSocket>) => import('ws').WebSocket } }} */
const engine = await import(pathToFileURL(`${dir}/dist/lib/core/engine_ws.js`).href);
/** @type {{ runner: { runner: (script: object, payload: unknown[], options: object) => Promise<import("node:events").EventEmitter & { run(): void, stop(): Promise<void> }> } }} */
const core = await import(pathToFileURL(`${dir}/dist/lib/core/index.js`).href);
const { Timed, counts } = timedSockets(engine._deps.WebSocket);
engine._deps.WebSocket = Timed;

const ws = { perMessageDeflate: false, ...(source ? { localAddress: source } : {}) };
const phases = hold ? [{ duration: 2, arrivalCount: 2 }, { duration: seconds, arrivalCount: Number(countArg) }] : [{ duration: seconds, arrivalRate: rate }];
// Open, then close (the same job as wsrace's rate runs); held: open, then think past the run.
// 2.x reads its first step as the connection (an empty flow throws): `connect`, a no-op step.
const script = { config: { target: url, phases, ws, statsInterval: 3600 }, scenarios: [{ engine: 'ws', flow: hold ? [{ connect: url }, { think: 600 }] : [{ connect: url }] }] };
const started = performance.now();
const ee = await core.runner.runner(script, [], {});
if (hold) {
  const tick = setInterval(() => process.stdout.write(`${JSON.stringify({ open: counts.opened - counts.closed, errors: counts.errors })}\n`), 250);
  setTimeout(() => {
    clearInterval(tick);
    process.exit(0);
  }, 120_000);
  ee.run();
} else {
  // Bounded: a tool that falls far behind is stopped and reported as such.
  const guard = setTimeout(() => report(), (seconds * 3 + 10) * 1000);
  ee.on('done', () => {
    clearTimeout(guard);
    // Its last sockets' closes are under way at `done`: a moment for them to land.
    setTimeout(report, 500);
  });
  ee.run();
}

function report() {
  const { created, opened, closed, errors } = counts;
  process.stdout.write(`${JSON.stringify({ scheduled: Math.round(rate * seconds), created: created.length, opened, closed, errors, ...lagStats(created, rate), wallS: +((performance.now() - started) / 1000).toFixed(2), version })}\n`);
  process.exit(0);
}
