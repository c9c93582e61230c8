import { describe, expect, it } from 'vitest';
import { peakRate, scheduleDurationMs, scheduleOffsets, scheduledCount, type Stage } from '../src/schedule/arrival.js';
import { stripeIndices, stripeShare } from '../src/schedule/stripe.js';

describe('arrival schedule', () => {
  it('a constant stage is evenly spaced: 200/s for 5 s is 1000 attempts 5 ms apart', () => {
    const stages: Stage[] = [{ durationMs: 5000, rate: 200 }];
    const t = scheduleOffsets(stages);
    expect(t.length).toBe(1000);
    expect(scheduledCount(stages)).toBe(1000);
    expect(t[0]).toBe(0);
    expect(t[1]).toBeCloseTo(5, 9);
    expect(t[999]).toBeCloseTo(4995, 9);
  });

  it('a linear ramp follows N(t) = r0·t + a·t²/2', () => {
    // 200 → 1000 over 10 s: N(10) = 6000, a = 80/s².
    const stages: Stage[] = [{ durationMs: 10_000, rate: 200, rampTo: 1000 }];
    const t = scheduleOffsets(stages);
    expect(t.length).toBe(6000);
    for (const k of [1, 10, 500, 3000, 5999]) {
      const s = t[k] / 1000;
      expect(200 * s + (80 * s * s) / 2).toBeCloseTo(k, 6);
    }
    // Gaps shrink as the rate grows.
    expect(t[1] - t[0]).toBeGreaterThan(t[5999] - t[5998]);
    expect(t[5999]).toBeLessThan(10_000);
  });

  it('ramps from zero and down to zero', () => {
    const up = scheduleOffsets([{ durationMs: 2000, rate: 0, rampTo: 100 }]); // N = 100
    expect(up.length).toBe(100);
    expect(up[0]).toBe(0);
    expect(up[1]).toBeCloseTo(Math.sqrt(2 / 50) * 1000, 6); // a = 50/s², N(t)=25t² → t=√(1/25)
    const down = scheduleOffsets([{ durationMs: 2000, rate: 100, rampTo: 0 }]);
    expect(down.length).toBe(100);
    expect(down[1]).toBeCloseTo((2 / (100 + Math.sqrt(100 * 100 - 2 * 50))) * 1000, 6);
    expect(down[99]).toBeLessThanOrEqual(2000);
    for (let i = 1; i < down.length; i++) expect(down[i]).toBeGreaterThan(down[i - 1]);
  });

  it('chains stages continuously, fractional arrivals carried over', () => {
    // 1.5 arrivals per stage: attempts at N = 0, 1, 2 → t = 0, 666.67 ms, then 1.5 + 0.5/1.5 s.
    const stages: Stage[] = [
      { durationMs: 1000, rate: 1.5 },
      { durationMs: 1000, rate: 1.5 },
    ];
    const t = scheduleOffsets(stages);
    expect(t.length).toBe(3);
    expect(t[1]).toBeCloseTo(666.667, 2);
    expect(t[2]).toBeCloseTo(1333.333, 2);
    expect(scheduleDurationMs(stages)).toBe(2000);
    expect(peakRate([{ durationMs: 1, rate: 5, rampTo: 9 }, { durationMs: 1, rate: 7 }])).toBe(9);
  });

  it('is non-decreasing and within the stages for a multi-stage profile', () => {
    const stages: Stage[] = [
      { durationMs: 5000, rate: 200 },
      { durationMs: 10_000, rate: 200, rampTo: 1000 },
      { durationMs: 3000, rate: 50 },
    ];
    const t = scheduleOffsets(stages);
    expect(t.length).toBe(1000 + 6000 + 150);
    for (let i = 1; i < t.length; i++) expect(t[i]).toBeGreaterThanOrEqual(t[i - 1]);
    expect(t[999]).toBeLessThan(5000);
    expect(t[1000]).toBeCloseTo(5000, 6);
    expect(t[7000]).toBeCloseTo(15_000, 6);
    expect(t[t.length - 1]).toBeLessThan(18_000);
  });
});

describe('striping', () => {
  it('N stripes add up to the whole schedule, each index exactly once', () => {
    for (const [total, n] of [[1000, 2], [7, 3], [2, 5], [0, 4], [6001, 8]] as const) {
      const seen = new Uint8Array(total);
      let sum = 0;
      for (let w = 0; w < n; w++) {
        const idx = stripeIndices(total, { index: w, count: n });
        sum += idx.length;
        for (const i of idx) {
          expect(i % n).toBe(w);
          seen[i]++;
        }
      }
      expect(sum).toBe(total);
      expect(seen.every((x) => x === 1)).toBe(true);
    }
  });

  it('splits a cap so the shares add up', () => {
    const shares = [0, 1, 2].map((w) => stripeShare(10, { index: w, count: 3 }));
    expect(shares).toEqual([4, 3, 3]);
    expect(() => stripeIndices(10, { index: 3, count: 3 })).toThrow(/0\.\.2/);
  });
});
