import { describe, expect, it } from 'vitest';
import { calibrateOrigin, checkedOrigin, now } from '../src/util/clock.js';

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

  it('keeps Node\'s origin within 0.25 ms of the ticks, and takes the ticks\' when Node\'s is further off (a start preempted mid-reading)', () => {
    const origin = 1_796_475_906_979.695;
    const { wall, mono } = fakeClocks(origin, 0.013);
    expect(checkedOrigin(origin + 0.2, wall, mono)).toBe(origin + 0.2);
    expect(checkedOrigin(origin - 0.2, wall, mono)).toBe(origin - 0.2);
    const fixed = checkedOrigin(origin + 33.4, wall, mono);
    expect(Math.abs(fixed - origin)).toBeLessThanOrEqual(2 * 0.013 + 0.001);
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
