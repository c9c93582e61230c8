import { describe, expect, it } from 'vitest';
import { findings, LOOP_DELAY_WARN_MS, type FindingsInput } from '../src/report/findings.js';
import { emptyTotals } from '../src/record/totals.js';
import { parseThreshold } from '../src/scenario/thresholds.js';

const input = (loopDelayP99: number | null | undefined): FindingsInput => ({
  totals: { ...emptyTotals(), attempted: 10, opened: 10, closeCodes: { '1000': 10 } },
  attribution: null,
  ready: { atMs: null, source: null, signals: { health: null, log: null, supplied: null } },
  timeline: [],
  health: null,
  failed: null,
  targetExit: null,
  scheduleLagP99: 0.2,
  loopDelayP99,
  hasTimelineSource: true,
  interruptedBy: null,
});

describe("findings: the generator's own event loop", () => {
  const busy = (out: string[]) => out.filter((x) => x.startsWith("wsrace's workers were busy"));

  it('says so when a worker loop ran late by more than 10 ms at p99, with the number', () => {
    const out = busy(findings(input(23.456)));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/ran late by 23\.5 ms at p99 \(loopDelayMs\).*may include up to that much of the generator's own delay/);
  });

  it('stays quiet at or under the limit, and for runs that did not measure it', () => {
    expect(busy(findings(input(LOOP_DELAY_WARN_MS)))).toEqual([]);
    expect(busy(findings(input(3)))).toEqual([]);
    expect(busy(findings(input(null)))).toEqual([]);
    expect(busy(findings(input(undefined)))).toEqual([]);
  });

  it('is a metric thresholds may name', () => {
    expect(parseThreshold('loopDelayMs.p99 < 10')).toMatchObject({ path: ['loopDelayMs', 'p99'], value: 10 });
  });
});

describe('loop delay samples', () => {
  it('a stalled tick also stands for the ticks the stall swallowed (coordinated-omission correction)', async () => {
    const { createHistogram, recordMsWithExpectedInterval, NS_PER_MS } = await import('../src/record/histogram.js');
    const h = createHistogram();
    recordMsWithExpectedInterval(h, 0.4, 2); // punctual: one sample
    recordMsWithExpectedInterval(h, 10, 2); // 10 ms late: it and the ticks due 8, 6, 4 and 2 ms before it ran
    expect(h.totalCount).toBe(6);
    expect(h.maxValue / NS_PER_MS).toBeCloseTo(10, 1);
    expect(h.getValueAtPercentile(50) / NS_PER_MS).toBeCloseTo(4, 1);
    recordMsWithExpectedInterval(h, -0.3, 2); // an early tick (clock granularity) counts as on time
    expect(h.totalCount).toBe(7);
    expect(h.getValueAtPercentile(1)).toBeLessThan(1000); // the 0–1 µs bucket
  });
});
