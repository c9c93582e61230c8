import { describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../src/record/attempt.js';
import { retryDelay, type ReconnectSettings } from '../src/engine/reconnect-policy.js';
import { outcomeKey } from '../src/record/clients.js';

/** The scenario's defaults (schema.ts), listing every kind of key. */
const settings = (over: Partial<ReconnectSettings> = {}): ReconnectSettings => ({
  on: ['1006', '1011', 'http_503', 'refused', 'reset', 'handshake_timeout', 'expect_timeout'],
  max: 10,
  initialMs: 250,
  factor: 2,
  maxMs: 5000,
  jitter: 0,
  ...over,
});

/** A finished attempt of client 7, try `tryNo`, ending as `end`. */
const rec = (end: Partial<AttemptRecord>, tryNo = 0): AttemptRecord => ({ i: 7, w: 0, sched: 0, start: 0, tcp: null, up: null, open: null, first: null, end: 1, outcome: 'error', client: 7, try: tryNo, ...end });

describe('outcomeKey: how reconnect.on names an outcome', () => {
  it('is the close code for a close, http_<status> for a rejected upgrade, else the outcome itself', () => {
    expect(outcomeKey(rec({ outcome: 'close', code: 1011 }))).toBe('1011');
    expect(outcomeKey(rec({ outcome: 'close', code: 1000 }))).toBe('1000');
    expect(outcomeKey(rec({ outcome: 'http', status: 503 }))).toBe('http_503');
    for (const outcome of ['refused', 'reset', 'handshake_timeout', 'expect_timeout', 'error', 'dropped', 'interrupted'] as const) {
      expect(outcomeKey(rec({ outcome }))).toBe(outcome);
    }
  });

  it('names an expect_timeout the same whether the shorthand expect or a step timed out', () => {
    expect(outcomeKey(rec({ outcome: 'expect_timeout' }))).toBe('expect_timeout');
    expect(outcomeKey(rec({ outcome: 'expect_timeout', step: 'established', stepFail: 'timeout' }))).toBe('expect_timeout');
  });
});

describe('retryDelay: when a reconnecting client tries again', () => {
  it('retries exactly the outcomes `on` lists: close codes, http_<status>, refused, reset, handshake_timeout, expect_timeout', () => {
    const rc = settings();
    expect(retryDelay(rc, rec({ outcome: 'close', code: 1006 }), 0.5)).toBe(250);
    expect(retryDelay(rc, rec({ outcome: 'close', code: 1011 }), 0.5)).toBe(250);
    expect(retryDelay(rc, rec({ outcome: 'http', status: 503 }), 0.5)).toBe(250);
    expect(retryDelay(rc, rec({ outcome: 'refused' }), 0.5)).toBe(250);
    expect(retryDelay(rc, rec({ outcome: 'reset' }), 0.5)).toBe(250);
    expect(retryDelay(rc, rec({ outcome: 'handshake_timeout' }), 0.5)).toBe(250);
    expect(retryDelay(rc, rec({ outcome: 'expect_timeout' }), 0.5)).toBe(250);
    // A step that timed out is an expect_timeout too (the behaviour since reconnect was added).
    expect(retryDelay(rc, rec({ outcome: 'expect_timeout', step: 's', stepFail: 'timeout' }), 0.5)).toBe(250);
  });

  it('does not retry what `on` leaves out: another close code or status, a success, an error, a drop', () => {
    const rc = settings();
    expect(retryDelay(rc, rec({ outcome: 'close', code: 1000 }), 0.5)).toBeNull();
    expect(retryDelay(rc, rec({ outcome: 'close', code: 1012 }), 0.5)).toBeNull();
    expect(retryDelay(rc, rec({ outcome: 'http', status: 502 }), 0.5)).toBeNull();
    expect(retryDelay(rc, rec({ outcome: 'error', err: 'EMFILE' }), 0.5)).toBeNull();
    expect(retryDelay(rc, rec({ outcome: 'dropped', err: 'maxConnections' }), 0.5)).toBeNull();
    expect(retryDelay(rc, rec({ outcome: 'interrupted' }), 0.5)).toBeNull();
    expect(retryDelay(settings({ on: ['refused'] }), rec({ outcome: 'expect_timeout' }), 0.5)).toBeNull();
    expect(retryDelay(settings({ on: ['error'] }), rec({ outcome: 'error', err: 'EMFILE' }), 0.5)).toBe(250);
  });

  it('never retries without reconnect settings or an attempt that belongs to no client', () => {
    expect(retryDelay(null, rec({ outcome: 'refused' }), 0.5)).toBeNull();
    expect(retryDelay(settings(), { ...rec({ outcome: 'refused' }), client: undefined, try: undefined }, 0.5)).toBeNull();
  });

  it('stops after `max` retries: try max − 1 still retries, try max does not', () => {
    const rc = settings({ max: 3, maxMs: 1e9 });
    expect(retryDelay(rc, rec({ outcome: 'refused' }, 2), 0.5)).toBe(1000);
    expect(retryDelay(rc, rec({ outcome: 'refused' }, 3), 0.5)).toBeNull();
    expect(retryDelay(rc, rec({ outcome: 'refused' }, 4), 0.5)).toBeNull();
    // A record without `try` is its client's first attempt.
    expect(retryDelay(rc, { ...rec({ outcome: 'refused' }), try: undefined }, 0.5)).toBe(250);
  });

  it('grows by `factor` each try from `initialMs`, up to the cap `maxMs`', () => {
    const rc = settings({ max: 100 });
    expect([0, 1, 2, 3, 4, 5, 6, 20].map((n) => retryDelay(rc, rec({ outcome: 'refused' }, n), 0.5))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    const rc3 = settings({ max: 100, initialMs: 100, factor: 3, maxMs: 2000 });
    expect([0, 1, 2, 3].map((n) => retryDelay(rc3, rec({ outcome: 'refused' }, n), 0.5))).toEqual([100, 300, 900, 2000]);
    const flat = settings({ max: 100, factor: 1 });
    expect([0, 5, 50].map((n) => retryDelay(flat, rec({ outcome: 'refused' }, n), 0.5))).toEqual([250, 250, 250]);
  });

  it('spreads the delay by ±jitter: rand 0 → −jitter, 0.5 → none, 1 → +jitter, on the capped delay', () => {
    const rc = settings({ jitter: 0.1, max: 100 });
    const refused = (n: number, rand: number) => retryDelay(rc, rec({ outcome: 'refused' }, n), rand);
    expect(refused(0, 0)).toBeCloseTo(225, 9);
    expect(refused(0, 0.5)).toBe(250);
    expect(refused(0, 1)).toBeCloseTo(275, 9);
    expect(refused(10, 0)).toBeCloseTo(4500, 9); // the cap, then the jitter: it may go past maxMs
    expect(refused(10, 1)).toBeCloseTo(5500, 9);
    // Every rand in [0, 1) lands within the bounds.
    for (let k = 0; k < 100; k++) {
      const d = refused(1, k / 100)!;
      expect(d).toBeGreaterThanOrEqual(450 - 1e-9);
      expect(d).toBeLessThan(550);
    }
    expect(retryDelay(settings({ jitter: 1 }), rec({ outcome: 'refused' }), 0)).toBe(0);
    expect(retryDelay(settings({ jitter: 0 }), rec({ outcome: 'refused' }), 0.99)).toBe(250);
  });
});
