// A peer on the same schedule: Artillery 1.x (its `ws` engine, open model, arrivalRate), driven
// through its own runner, with every socket's creation timestamped so its schedule lag is
// measured the way wsrace's is: creation − (first creation + k / rate). Artillery is not a
// dependency of wsrace: install it anywhere (`npm i artillery@1.7.9` in a scratch folder) and
// pass that node_modules/artillery folder.
// Usage: node bench/peer-artillery.cjs ARTILLERY_DIR URL RATE SECONDS [SOURCE_ADDRESS]
// Prints {"scheduled","created","opened","errors","lagP50","lagP99","sustainedP99","lagMax","wallS"} as JSON.
'use strict';
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const [dir, url, rate, seconds, source] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5]), process.argv[6]];
process.env.ARTILLERY_DISABLE_TELEMETRY = 'true';
const wsPath = require.resolve('ws', { paths: [path.join(dir, 'core', 'lib')] });
const WS = require(wsPath);
/** @type {number[]} */
const created = [];
let opened = 0;
let errors = 0;
// Artillery's engine does `new (require('ws'))(...)`: hand it a subclass that notes the moment.
class Timed extends WS {
  /** @param {unknown[]} args passed through to ws untouched */
  constructor(...args) {
    created.push(performance.now());
    super(...args);
    this.once('open', () => opened++);
    this.once('error', () => errors++);
  }
}
/** @type {NodeJS.Module} */ (require.cache[wsPath]).exports = Timed; // the require above put it there
const { runner } = require(path.join(dir, 'core'));

const script = {
  config: { target: url, phases: [{ duration: seconds, arrivalRate: rate }], ws: { perMessageDeflate: false, ...(source ? { localAddress: source } : {}) }, statsInterval: 3600 },
  scenarios: [{ engine: 'ws', flow: [] }], // open, then close: the same job as wsrace's bench runs
};
const started = performance.now();
// Bounded: a tool that falls far behind is stopped and reported as such.
const guard = setTimeout(() => report(), (seconds * 3 + 10) * 1000);
runner(script, [], {}).then((/** @type {import('node:events').EventEmitter & { run(): void, stop(done: () => void): void }} */ ee) => {
  ee.on('done', () => ee.stop(() => report()));
  ee.run();
});

function report() {
  clearTimeout(guard);
  const interval = 1000 / rate;
  // Its schedule's origin is not observable: take the one most favourable to it (no start early).
  const origin = Math.min(...created.map((t, k) => t - k * interval));
  const lags = created.map((t, k) => t - (origin + k * interval));
  // The first second is JIT warm-up, left out as in wsrace's sustained lag.
  const sustained = lags.filter((_, k) => k * interval >= 1000).sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  /** @param {number} q */
  const at = (q) => (lags.length ? +lags[Math.min(lags.length - 1, Math.floor(q * lags.length))].toFixed(3) : null);
  const sustainedP99 = sustained.length ? +sustained[Math.min(sustained.length - 1, Math.floor(0.99 * sustained.length))].toFixed(3) : null;
  process.stdout.write(JSON.stringify({ scheduled: Math.round(rate * seconds), created: created.length, opened, errors, lagP50: at(0.5), lagP99: at(0.99), sustainedP99, lagMax: lags.length ? +lags[lags.length - 1].toFixed(3) : null, wallS: +((performance.now() - started) / 1000).toFixed(2) }) + '\n');
  process.exit(0);
}
