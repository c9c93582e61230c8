import { describe, expect, it } from 'vitest';
import { MessageAttributor, sendLagOf, type SendLagSource } from '../src/timeline/message-report.js';
import type { MessageLine } from '../src/record/messages.js';
import { createHistogram, latencyStats, recordMs } from '../src/record/histogram.js';

/** The stats of a histogram holding exactly these lags (ms). */
function statsOf(...ms: number[]) {
  const h = createHistogram();
  for (const x of ms) recordMs(h, x);
  return latencyStats(h);
}

// Attempt 7 opened at 1000 ms, attempt 8 at 2500; every 250 ms: message k is due at open + (k − 1)·250.
const source: SendLagSource = { everyMs: 250, openOf: (i) => (i === 7 ? 1000 : i === 8 ? 2500 : undefined) };
const line = (i: number, seq: number, sent: number, r: MessageLine['r'] = 'replied'): MessageLine => ({ i, r, seq, sent, ...(r === 'lost' ? { code: 1006 } : { rtt: 1 }) });

describe("a message's send lag, read back from the files", () => {
  it('its send time minus its due time; never below 0 (times have 3 decimals); unknown without the open or the seq', () => {
    expect(sendLagOf(line(7, 1, 1000.25), source)).toBe(0.25);
    expect(sendLagOf(line(7, 3, 1503.5), source)).toBe(3.5);
    expect(sendLagOf(line(7, 2, 1249.999), source)).toBe(0);
    expect(sendLagOf(line(9, 1, 1000), source)).toBeNull();
    expect(sendLagOf({ i: 7, r: 'unmatched', at: 1200 }, source)).toBeNull();
    expect(sendLagOf(line(7, 1, 1000), null)).toBeNull();
  });

  it('counted in the phase each message was sent in, replied, late and lost alike', () => {
    const a = new MessageAttributor({ spans: [{ phase: 'warming', startMs: 0, endMs: 2000 }, { phase: 'ready', startMs: 2000, endMs: null }], readyAtMs: 2000, failedAtMs: null }, source);
    a.add(line(7, 1, 1002)); // 2 ms late
    a.add(line(7, 2, 1254, 'late')); // 4 ms
    a.add(line(8, 1, 2500)); // on time
    a.add(line(8, 2, 2760, 'lost')); // 10 ms
    a.add({ i: 8, r: 'duplicate', seq: 2, at: 2800 }); // no send of its own
    const r = a.result();
    expect(r.phases.warming.sendLagMs).toEqual(statsOf(2, 4));
    expect(r.phases.ready.sendLagMs).toEqual(statsOf(0, 10));
    expect(r.afterReady.sendLagMs).toEqual(statsOf(0, 10));
    expect([r.beforeReady.sendLagMs.count, r.afterReady.sendLagMs.count, r.firstAfterReady!.sendLagMs.count]).toEqual([2, 2, 2]);
    const without = new MessageAttributor({ spans: [], readyAtMs: null, failedAtMs: null });
    without.add(line(7, 1, 1002));
    expect(without.result().beforeReady.sendLagMs.count).toBe(0);
  });
});
