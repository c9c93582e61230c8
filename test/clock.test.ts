import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { calibrateOrigin, chooseOffset, CLOCK_OFFSET_ENV, inheritedOffset, now, threadMonotonicOrigin, TIME_ORIGIN } from '../src/util/clock.js';

/** A monotonic clock that moves `step` ms per read, and the wall clock it implies: floor(origin + mono), as Date.now() is. */
function fakeClocks(origin: number, step: number, start = 0) {
  let mono = start;
  const readMono = () => (mono += step);
  return { wall: () => Math.floor(origin + mono), mono: readMono };
}

describe('the clock', () => {
  it('places the origin at a Date.now() tick, early by no more than the two reads that see the tick', () => {
    const origin = 1_796_475_906_979.695;
    for (const step of [0.001, 0.013, 0.25]) {
      const { wall, mono } = fakeClocks(origin, step);
      const got = calibrateOrigin(origin + 33.4, wall, mono);
      expect(got).toBeLessThanOrEqual(origin + 0.001);
      // The wall read lands up to a step past the tick and the monotonic read one more; 0.001 is a double's resolution at this epoch.
      expect(origin - got).toBeLessThanOrEqual(2 * step + 0.001);
    }
  });

  it('keeps an inherited offset unless the own calibration sits more than 0.25 ms from it; without one, the own, else Node\'s', () => {
    const o = 1_796_475_906_979.695;
    expect(chooseOffset(o, o + 0.25, o + 33)).toBe(o);
    expect(chooseOffset(o, o - 0.25, o + 33)).toBe(o);
    expect(chooseOffset(o, null, o + 33)).toBe(o);
    expect(chooseOffset(o, o + 0.3, o + 33)).toBe(o + 0.3); // the parent's were read late, or the wall clock stepped
    expect(chooseOffset(o, o - 5, o + 33)).toBe(o - 5); // the parent handed on Node's origin, 5 ms late
    expect(chooseOffset(undefined, o + 0.3, o + 33)).toBe(o + 0.3);
    expect(chooseOffset(undefined, null, o + 33)).toBe(o + 33);
  });

  it('reads an inherited offset only when the variable holds a number', () => {
    expect(inheritedOffset({ [CLOCK_OFFSET_ENV]: '1796475906979.695' })).toBe(1_796_475_906_979.695);
    for (const raw of [undefined, '', ' ', 'abc', 'NaN', 'Infinity']) expect(inheritedOffset({ [CLOCK_OFFSET_ENV]: raw })).toBeUndefined();
  });

  it('places performance.now() on the monotonic clock by the narrowest bracket of reads around it', () => {
    // Monotonic reads 10 apart, except one bracket of 0.002 around the 4th performance.now(); perf = mono − 1000 + 0.5.
    const brackets = [[0, 10], [20, 30], [40, 50], [60, 60.002]];
    let b = 0;
    let side = 0;
    const mono = () => brackets[b]![side++ % 2]!;
    const perf = () => brackets[b]![0]! + (brackets[b]![1]! - brackets[b]![0]!) / 2 - 1000;
    const origin = threadMonotonicOrigin(() => { const v = mono(); if (side % 2 === 0) b++; return v; }, () => perf());
    expect(origin).toBe(1000);
    expect(b).toBe(4); // it stops at the first tight bracket
  });

  it('hands the main thread\'s offset to its worker threads and children: every thread of a child shares the inherited offset', () => {
    const offset = TIME_ORIGIN - threadMonotonicOrigin();
    const clock = fileURLToPath(new URL('../dist/util/clock.js', import.meta.url)); // the compiled module (global setup builds it): a worker thread loads it as users' do
    const script = `
      import { Worker } from 'node:worker_threads';
      const { TIME_ORIGIN, threadMonotonicOrigin } = await import(${JSON.stringify(clock)});
      const mine = TIME_ORIGIN - threadMonotonicOrigin();
      const w = new Worker('Promise.all([import(' + JSON.stringify(${JSON.stringify(clock)}) + '), import("node:worker_threads")]).then(([c, w]) => w.parentPort.postMessage(c.TIME_ORIGIN - c.threadMonotonicOrigin()))', { eval: true });
      w.once('message', (theirs) => { console.log(JSON.stringify({ mine, theirs, env: process.env.${CLOCK_OFFSET_ENV} })); w.terminate(); });`;
    const run = (inherited: number) => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, [CLOCK_OFFSET_ENV]: String(inherited) }, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout) as { mine: number; theirs: number; env: string };
    };
    // 0.05 ms above this process's: within the child's own calibration's tolerance, so the child keeps it and its worker takes it as it is.
    const inherited = offset + 0.05;
    const got = run(inherited);
    expect(Math.abs(got.mine - inherited)).toBeLessThan(0.01);
    expect(Math.abs(got.theirs - inherited)).toBeLessThan(0.01);
    expect(got.env).toBe(String(inherited));
  });

  it('keeps the fallback when no two ticks agree within 0.1 ms (every tick read later than the one before: a thread preempted at each)', () => {
    const origin = 1_796_475_906_979.695;
    let t = 0;
    let ticks = 0;
    let seen = Math.floor(origin);
    const wall = () => Math.floor(origin + t);
    const mono = () => {
      t += 0.01;
      if (Math.floor(origin + t) !== seen) [seen, t] = [Math.floor(origin + t), t + 0.3 * ++ticks];
      return t;
    };
    expect(calibrateOrigin(origin + 33.4, wall, mono)).toBe(origin + 33.4);
    expect(ticks).toBeGreaterThanOrEqual(8);
  });

  it('keeps the fallback when the wall clock does not tick within 5 ms of the monotonic clock', () => {
    let mono = 0;
    expect(calibrateOrigin(123.5, () => 1_000, () => (mono += 0.5))).toBe(123.5);
    expect(mono).toBeGreaterThan(5);
    expect(mono).toBeLessThanOrEqual(6);
  });

  // Within 0.25 ms either way: the origin kept may sit that far from the ticks (ORIGIN_TOLERANCE_MS).
  it('reads wall time: between Date.now() read before it and a millisecond after the one read after it, within the origin\'s tolerance', () => {
    for (let k = 0; k < 100; k++) {
      const before = Date.now();
      const t = now();
      const after = Date.now();
      expect(t).toBeGreaterThanOrEqual(before - 0.25);
      expect(t).toBeLessThan(after + 1 + 0.25);
    }
  });
});
