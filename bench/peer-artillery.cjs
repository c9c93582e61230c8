// A peer on the same schedule: Artillery 1.x (its `ws` engine, open model, arrivalRate), driven
// through its own runner, with every socket's creation timestamped so its schedule lag is
// measured the way wsrace's is: creation − (first creation + k / rate). Artillery is not a
// dependency of wsrace: install it anywhere (`npm i artillery@1.7.9` in a scratch folder) and
// pass that node_modules/artillery folder.
// Usage: node bench/peer-artillery.cjs ARTILLERY_DIR URL RATE SECONDS [SOURCE_ADDRESS]
// Prints {"scheduled","created","opened","errors","lagP50","lagP99","sustainedP99","lagMax","wallS"} as JSON.
// With RATE `hold` and SECONDS a socket count: opens that many (2 over 2 s first, the idle
// baseline of bench/peers.mjs's memory row, then 2,000/s) and holds them until killed (≤ 120 s).
'use strict';
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { timedSockets, lagStats } = require('./peer-timing.cjs');

const hold = process.argv[4] === 'hold' ? Number(process.argv[5]) : 0;
const [dir, url, rate, seconds, source] = [process.argv[2], process.argv[3], hold ? 2000 : Number(process.argv[4]), hold ? Math.ceil(hold / 2000) : Number(process.argv[5]), process.argv[6]];
process.env.ARTILLERY_DISABLE_TELEMETRY = 'true';
const wsPath = require.resolve('ws', { paths: [path.join(dir, 'core', 'lib')] });
const WS = require(wsPath);
// Artillery's engine does `new (require('ws'))(...)`: hand it a subclass that notes the moments.
const { Timed, counts } = timedSockets(WS);
/** @type {NodeJS.Module} */ (require.cache[wsPath]).exports = Timed; // the require above put it there
const { runner } = require(path.join(dir, 'core'));

const script = {
  config: { target: url, phases: hold ? [{ duration: 2, arrivalCount: 2 }, { duration: seconds, arrivalCount: hold }] : [{ duration: seconds, arrivalRate: rate }], ws: { perMessageDeflate: false, ...(source ? { localAddress: source } : {}) }, statsInterval: 3600 },
  scenarios: [{ engine: 'ws', flow: hold ? [{ think: 600 }] : [] }], // open, then close: the same job as wsrace's bench runs
};
const started = performance.now();
// Bounded: a tool that falls far behind is stopped and reported as such.
const guard = hold ? setTimeout(() => process.exit(0), 120_000) : setTimeout(() => report(), (seconds * 3 + 10) * 1000);
runner(script, [], {}).then((/** @type {import('node:events').EventEmitter & { run(): void, stop(done: () => void): void }} */ ee) => {
  ee.on('done', () => ee.stop(() => report()));
  ee.run();
});

function report() {
  clearTimeout(guard);
  const { created, opened, errors } = counts;
  process.stdout.write(JSON.stringify({ scheduled: Math.round(rate * seconds), created: created.length, opened, errors, ...lagStats(created, rate), wallS: +((performance.now() - started) / 1000).toFixed(2) }) + '\n');
  process.exit(0);
}
