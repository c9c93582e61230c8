import { describe, expect, it } from 'vitest';
import { findings, LOOP_DELAY_WARN_MS, type FindingsInput } from '../src/report/findings.js';
import { emptyTotals } from '../src/record/totals.js';
import { parseThreshold } from '../src/scenario/thresholds.js';
import { messageDetails, messageRace, messageSendLag, roundTrip, SEND_LAG_WARN_MS, share } from '../src/report/message-findings.js';
import { emptyMessageCounts, mergeMessageCounts, type MessageCounts } from '../src/record/messages.js';
import type { LatencyStats } from '../src/record/histogram.js';
import type { MessageBlock } from '../src/timeline/message-report.js';
import type { MessagesSummary } from '../src/report/summary.js';
import type { Attribution } from '../src/timeline/phase-report.js';

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

describe('findings: a schedule that ran late', () => {
  const late = (scheduleLagP99: number, niceAsked?: number | null) => findings({ ...input(null), scheduleLagP99, niceAsked }).filter((x) => x.startsWith('schedule lag'));

  it('says so over 10 ms, and points at --nice while none was asked', () => {
    expect(late(23.33)).toEqual([
      "schedule lag p99 23.3 ms: the generator fell behind its schedule; latencies include that wait. If the target shares this machine's cores, --nice -10 (Linux) puts the schedule first, at the target's expense",
    ]);
    expect(late(23.33, null)).toEqual(late(23.33));
    expect(late(12, -10)).toEqual(['schedule lag p99 12.0 ms: the generator fell behind its schedule; latencies include that wait']);
    expect(late(10)).toEqual([]);
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

// ---------------------------------------------------------------- session.stream's messages

const rtt = (p50: number | null, p99: number | null = p50): LatencyStats => ({ count: p50 === null ? 0 : 100, min: p50, mean: p50, stddev: 0, p50, p75: p50, p90: p99, p95: p99, p99, p999: p99, max: p99 });
const block = (sent: number, lost: number, rttMs: LatencyStats, extra: Partial<MessageCounts> = {}): MessageBlock => ({
  ...emptyMessageCounts(),
  sent,
  lost,
  replied: sent - lost - (extra.late ?? 0),
  rttMs,
  sendLagMs: rtt(0, 0),
  ...extra,
});
/** summary.messages as buildSummary leaves it: whole-run counts, the two blocks around readiness. */
const stream = (first: MessageBlock | null, later: MessageBlock | null, extra: Partial<MessagesSummary> = {}): MessagesSummary => {
  const whole = mergeMessageCounts(mergeMessageCounts(emptyMessageCounts(), first ?? emptyMessageCounts()), later ?? emptyMessageCounts());
  return { ...whole, rttMs: rtt(1, 2), sendLagMs: rtt(0.5, 2), firstAfterReady: first, laterAfterReady: later, ...extra };
};
const withStream = (messages: MessagesSummary | null, afterReady: MessageCounts | null = null, ready = 3000): FindingsInput => ({
  ...input(0.2),
  ready: { atMs: ready, source: 'health', signals: { health: ready, log: null, supplied: null } },
  messages,
  ...(afterReady ? { attribution: { messages: { afterReady } } as unknown as Attribution } : {}),
});

describe('findings: messages (session.stream)', () => {
  it("the issue's sentence: loss and round trip in the 2 s after ready against later", () => {
    const m = stream(block(4020, 312, rtt(40, 1840)), block(50_000, 0, rtt(2, 12)));
    expect(messageRace(m)).toEqual(['312 of 4,020 messages sent in the 2 s after ready were lost (7.8%); round-trip p99 1.84 s against 12 ms later']);
    // Most important first: right after the failures after ready, before the outage and readiness.
    const out = findings(withStream(m));
    expect(out[0]).toBe('all 10 connections worked');
    expect(out[1]).toBe(messageRace(m)[0]);
    expect(out.indexOf('/health reported ready at +3.00 s')).toBeGreaterThan(1);
  });

  it('late replies, loss later on, and a window where all went well', () => {
    expect(messageRace(stream(block(200, 3, rtt(5, 900), { late: 7 }), block(10, 0, rtt(1, 4.567))))).toEqual([
      '3 of 200 messages sent in the 2 s after ready were lost (1.5%), 7 more answered late (3.5%); round-trip p99 900 ms against 4.57 ms later',
    ]);
    expect(messageRace(stream(block(200, 0, rtt(5, 9.994), { late: 1 }), block(0, 0, rtt(null))))).toEqual(['1 of 200 messages sent in the 2 s after ready were answered late (0.5%); round-trip p99 9.99 ms']);
    expect(messageRace(stream(block(1069, 0, rtt(0.6, 6.574)), block(20_000, 3, rtt(0.7, 4.952))))).toEqual([
      'the 1,069 messages sent in the 2 s after ready were all answered in time; round-trip p99 6.57 ms against 4.95 ms later',
      '3 of 20,000 messages sent more than 2 s after ready were lost (<0.1%)',
    ]);
    expect(messageRace(stream(block(30, 30, rtt(null)), block(10, 0, rtt(1, 3))))).toEqual(['30 of 30 messages sent in the 2 s after ready were lost (100.0%); none was answered, against round-trip p99 3.00 ms later']);
  });

  it('without readiness: the whole run', () => {
    const m = { ...block(400, 40, rtt(0.25, 3.5)), sendLagMs: rtt(1), firstAfterReady: null, laterAfterReady: null };
    expect(messageRace(m)).toEqual(['40 of 400 messages sent in the run were lost (10.0%); round-trip p50 0.25 ms, p99 3.50 ms']);
    expect(messageRace({ ...m, lost: 400, replied: 0, rttMs: rtt(null) })).toEqual(['400 of 400 messages sent in the run were lost (100.0%); none was answered']);
    expect(messageRace({ ...m, lost: 0, replied: 400 })).toEqual(['the 400 messages sent in the run were all answered in time; round-trip p50 0.25 ms, p99 3.50 ms']);
  });

  it('which close codes took the lost messages, how many of them after ready', () => {
    const after = { ...emptyMessageCounts(), lostByClose: { '1011': 9, '1000': 65 }, late: 2 };
    const m = stream(block(1026, 74, rtt(1)), block(0, 0, rtt(null)), { lost: 1338, late: 2, lostByClose: { '1011': 1204, '1000': 65, '1006': 69 } });
    expect(messageDetails(m, after)).toEqual([
      '1,204 messages were lost when their socket closed 1011, 9 of them sent after ready',
      '69 messages were lost when their socket closed 1006 (no close frame: dropped), all sent before ready',
      '65 messages were never answered: their socket closed 1000 (normally) with them outstanding, all sent after ready',
      '2 messages were answered late, after session.stream.within, all sent after ready',
    ]);
    // Without readiness there is no before or after to tell.
    expect(messageDetails({ ...m, firstAfterReady: null, laterAfterReady: null, lostByClose: { '1011': 1 }, late: 0 }, after)).toEqual(['1 message was lost when its socket closed 1011']);
  });

  it('order, duplicates, unmatched replies and server gaps, only when non-zero', () => {
    const m = stream(null, null);
    expect(messageDetails(m, null)).toEqual([]);
    expect(messageDetails({ ...m, outOfOrder: 5 }, null)).toEqual(['5 replies came out of order']);
    expect(messageDetails({ ...m, outOfOrder: 1, duplicates: 2, unmatched: 1 }, null)).toEqual(['1 reply came out of order, 2 were duplicates and 1 answered no message sent (unmatched)']);
    expect(messageDetails({ ...m, duplicates: 1, unmatched: 3 }, null)).toEqual(['1 was a duplicate and 3 answered no message sent (unmatched)']);
    expect(messageDetails({ ...m, serverGaps: 2, serverMissing: 5 }, null)).toEqual(["the server's own sequence (session.serverSeq) skipped 5 numbers in 2 gaps: messages it sent never arrived"]);
  });

  it('the send lag: said when the generator fell behind the stream, with its number', () => {
    const m = stream(block(10, 0, rtt(1)), block(10, 0, rtt(1)));
    expect(messageSendLag({ ...m, sendLagMs: rtt(1, SEND_LAG_WARN_MS) })).toEqual([]);
    const lag = messageSendLag({ ...m, sendLagMs: rtt(1, 23.456) });
    expect(lag).toHaveLength(1);
    expect(lag[0]).toMatch(/^message send lag p99 23\.5 ms \(messages\.sendLagMs\): the generator fell behind the stream's schedule, so messages went out late and their round trips may include up to that much of wsrace's own delay/);
    expect(findings(withStream({ ...m, sendLagMs: rtt(1, 23.456) }))).toContain(lag[0]);
  });

  it('a run without a stream has no message findings', () => {
    const none = findings(input(0.2));
    for (const messages of [undefined, null]) expect(findings({ ...input(0.2), messages })).toEqual(none);
    expect(messageRace(stream(block(0, 0, rtt(null)), block(0, 0, rtt(null))))).toEqual([]);
  });

  it('numbers: shares and round trips', () => {
    expect([share(312, 4020), share(1, 3000), share(0, 10), share(5, 0)]).toEqual(['7.8%', '<0.1%', '0.0%', '-']);
    expect([roundTrip(0.742), roundTrip(9.994), roundTrip(12.4), roundTrip(412.6), roundTrip(1840)]).toEqual(['0.74 ms', '9.99 ms', '12 ms', '413 ms', '1.84 s']);
  });
});
