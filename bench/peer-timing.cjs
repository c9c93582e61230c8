// What the Artillery runners (bench/peer-artillery.cjs for 1.x, bench/peer-artillery2.mjs for
// 2.x) share: a subclass of the WebSocket class Artillery's ws engine uses that notes each
// socket's creation, open, close and error, and the schedule lag of those creations:
// creation − (origin + k / rate), against the origin most favourable to the tool (its
// schedule's origin is not observable), with the first second (JIT warm-up) left out of the
// sustained p99 as in wsrace's.
'use strict';
const { performance } = require('node:perf_hooks');

/**
 * @template {new (...args: any[]) => import('node:events').EventEmitter} C
 * @param {C} WS the class to hand Artillery instead
 */
function timedSockets(WS) {
  const counts = { created: /** @type {number[]} */ ([]), opened: 0, closed: 0, errors: 0 };
  class Timed extends WS {
    /** @param {any[]} args passed through to ws untouched */
    constructor(...args) {
      counts.created.push(performance.now());
      super(...args);
      this.once('open', () => counts.opened++);
      this.once('close', () => counts.closed++);
      this.once('error', () => counts.errors++);
    }
  }
  return { Timed, counts };
}

/**
 * @param {number[]} created creation times, ms
 * @param {number} rate the asked rate, per second
 */
function lagStats(created, rate) {
  const interval = 1000 / rate;
  const origin = Math.min(...created.map((t, k) => t - k * interval));
  const lags = created.map((t, k) => t - (origin + k * interval));
  const sustained = lags.filter((_, k) => k * interval >= 1000).sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  /** @param {number[]} xs @param {number} q */
  const at = (xs, q) => (xs.length ? +xs[Math.min(xs.length - 1, Math.floor(q * xs.length))].toFixed(3) : null);
  return { lagP50: at(lags, 0.5), lagP99: at(lags, 0.99), sustainedP99: at(sustained, 0.99), lagMax: lags.length ? +lags[lags.length - 1].toFixed(3) : null };
}

module.exports = { timedSockets, lagStats };
