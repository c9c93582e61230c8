import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Histogram } from 'hdr-histogram-js';
import { afterAll, describe, expect, it } from 'vitest';
import { eachLineSync } from '../src/util/line-file.js';
import { compareMessages, loadMessageSide, renderMessageRows, type MessageSide } from '../src/report/compare-messages.js';
import { DEFAULT_COMPARE } from '../src/report/compare.js';
import { createHistogram, NS_PER_MS, recordMs } from '../src/record/histogram.js';
import { HlogWriter } from '../src/record/hlog-writer.js';
import { emptyMessageCounts, type MessageCounts } from '../src/record/messages.js';
import type { Summary } from '../src/report/summary.js';

const dir = mkdtempSync(join(tmpdir(), 'wsrace-compare-messages-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const counts = (sent: number, lost: number, late = 0): MessageCounts => ({ ...emptyMessageCounts(), sent, lost, late, replied: sent - lost - late });
const histogramOf = (ms: number, n: number): Histogram => {
  const h = createHistogram();
  for (let k = 0; k < n; k++) recordMs(h, ms);
  return h;
};
/** What compare prints for a percentile of `h`: the histogram's value in ms, two decimals. */
const shown = (h: Histogram, q: number) => (h.getValueAtPercentile(q) / NS_PER_MS).toFixed(2);

/** The parts of a run compareMessages reads: summary.messages, each phase's messages, and the round trips. */
function side(total: MessageCounts | null, phases: Record<string, MessageCounts | undefined>, rtt: Histogram, phaseRtt: Record<string, Histogram> = {}): { summary: Summary; messages: MessageSide | null } {
  const summary = {
    messages: total ? { ...total, rttMs: null, sendLagMs: null, firstAfterReady: null, laterAfterReady: null } : undefined,
    phases: Object.fromEntries(Object.entries(phases).map(([p, messages]) => [p, messages ? { messages } : {}])),
  } as unknown as Summary;
  return { summary, messages: total ? { total: rtt, phases: new Map(Object.entries(phaseRtt)) } : null };
}

const OPTIONS = { ...DEFAULT_COMPARE, percentiles: [50, 99] };

describe('compareMessages: loss', () => {
  it('a loss rate up by more than the failure tolerance is a regression; up to it is not', () => {
    const base = side(counts(1000, 10), {}, histogramOf(5, 200));
    const fiveMs = histogramOf(5, 1).getValueAtPercentile(50) / NS_PER_MS; // 5 ms as the histogram holds it
    const within = compareMessages(base, side(counts(2000, 39), {}, histogramOf(5, 200)), OPTIONS); // 1.0% → 1.95%: +0.95 pp
    expect(within.regressions).toEqual([]);
    expect(within.rows[0]).toEqual({
      scope: 'total',
      base: { sent: 1000, lost: 10, late: 0, lossRate: 0.01, p: { 50: fiveMs, 99: fiveMs } },
      cand: { sent: 2000, lost: 39, late: 0, lossRate: 39 / 2000, p: { 50: fiveMs, 99: fiveMs } },
    });
    const over = compareMessages(base, side(counts(2000, 42), {}, histogramOf(5, 200)), OPTIONS); // +1.1 pp
    expect(over.regressions).toEqual(['total: message loss 1.0% → 2.1% (+1.1 pp, tolerance 1 pp)']);
    expect(compareMessages(base, side(counts(2000, 42), {}, histogramOf(5, 200)), { ...OPTIONS, failureTolerancePp: 2 }).regressions).toEqual([]);
    // Late replies are counted and shown, never judged as loss.
    expect(compareMessages(base, side(counts(1000, 10, 500), {}, histogramOf(5, 200)), OPTIONS).regressions).toEqual([]);
    // Less loss is no regression.
    expect(compareMessages(side(counts(1000, 500), {}, histogramOf(5, 200)), base, OPTIONS).regressions).toEqual([]);
  });

  it('a side that sent nothing in a scope is not judged there', () => {
    const cmp = compareMessages(side(counts(0, 0), {}, createHistogram()), side(counts(100, 100), {}, createHistogram()), OPTIONS);
    expect(cmp.rows.map((r) => [r.scope, r.base?.lossRate, r.cand?.lossRate])).toEqual([['total', 0, 1]]);
    expect(cmp.regressions).toEqual([]);
    expect(cmp.warnings).toEqual([]); // no replies on either side: nothing to say about percentiles
  });
});

describe('compareMessages: round trips', () => {
  it('a percentile up by more than the tolerance and the minimum delta is a regression, with the numbers compare read', () => {
    const base = histogramOf(10, 200);
    const slower = histogramOf(12, 200); // +20%, +2 ms
    const cmp = compareMessages(side(counts(200, 0), {}, base), side(counts(200, 0), {}, slower), OPTIONS);
    expect(cmp.regressions).toEqual([
      `total: message round-trip p50 ${shown(base, 50)} ms → ${shown(slower, 50)} ms (+${(((slower.getValueAtPercentile(50) - base.getValueAtPercentile(50)) / base.getValueAtPercentile(50)) * 100).toFixed(0)}%, tolerance 10%)`,
      `total: message round-trip p99 ${shown(base, 99)} ms → ${shown(slower, 99)} ms (+${(((slower.getValueAtPercentile(99) - base.getValueAtPercentile(99)) / base.getValueAtPercentile(99)) * 100).toFixed(0)}%, tolerance 10%)`,
    ]);
    expect(cmp.regressions[0]).toMatch(/ \(\+20%, tolerance 10%\)$/);
    // +0.8 ms on 10 ms: under the minimum delta (1 ms), so not flagged though it is +8%…
    expect(compareMessages(side(counts(200, 0), {}, base), side(counts(200, 0), {}, histogramOf(10.8, 200)), OPTIONS).regressions).toEqual([]);
    // …and +0.8 ms on 2 ms is +40% but still under the minimum delta.
    expect(compareMessages(side(counts(200, 0), {}, histogramOf(2, 200)), side(counts(200, 0), {}, histogramOf(2.8, 200)), OPTIONS).regressions).toEqual([]);
    // +1.5 ms on 100 ms is over the delta but within 10%.
    expect(compareMessages(side(counts(200, 0), {}, histogramOf(100, 200)), side(counts(200, 0), {}, histogramOf(101.5, 200)), OPTIONS).regressions).toEqual([]);
  });

  it('fewer replies than --min-samples on either side: not compared, and a note says so', () => {
    const cmp = compareMessages(side(counts(200, 0), {}, histogramOf(1, 150)), side(counts(200, 0), {}, histogramOf(50, 99)), OPTIONS);
    expect(cmp.regressions).toEqual([]);
    expect(cmp.warnings).toEqual(['total: message round-trip percentiles not compared (150 and 99 replies, fewer than --min-samples 100)']);
    expect(compareMessages(side(counts(200, 0), {}, histogramOf(1, 150)), side(counts(200, 0), {}, histogramOf(50, 100)), OPTIONS).regressions).toHaveLength(2);
  });
});

describe('compareMessages: scopes', () => {
  it('each phase that has messages on either side, by the phase histograms; a phase only one side saw is shown, not judged', () => {
    const base = side(counts(300, 0), { init: counts(100, 0), ready: counts(200, 0), idle: undefined }, histogramOf(1, 300), { init: histogramOf(1, 100), ready: histogramOf(1, 200) });
    const cand = side(counts(300, 60), { init: counts(100, 50), ready: counts(150, 0), migrate: counts(50, 10) }, histogramOf(1, 240), { init: histogramOf(1, 50), ready: histogramOf(30, 150), migrate: histogramOf(1, 40) });
    const cmp = compareMessages(base, cand, OPTIONS);
    expect(cmp.rows.map((r) => [r.scope, r.base?.sent ?? null, r.cand?.sent ?? null])).toEqual([
      ['total', 300, 300],
      ['phase init', 100, 100],
      ['phase ready', 200, 150],
      ['phase migrate', null, 50],
    ]);
    const [b, c] = [histogramOf(1, 1), histogramOf(30, 1)];
    expect(cmp.regressions).toEqual([
      'total: message loss 0.0% → 20.0% (+20.0 pp, tolerance 1 pp)',
      'phase init: message loss 0.0% → 50.0% (+50.0 pp, tolerance 1 pp)',
      `phase ready: message round-trip p50 ${shown(b, 50)} ms → ${shown(c, 50)} ms (+${(((c.getValueAtPercentile(50) - b.getValueAtPercentile(50)) / b.getValueAtPercentile(50)) * 100).toFixed(0)}%, tolerance 10%)`,
      `phase ready: message round-trip p99 ${shown(b, 99)} ms → ${shown(c, 99)} ms (+${(((c.getValueAtPercentile(99) - b.getValueAtPercentile(99)) / b.getValueAtPercentile(99)) * 100).toFixed(0)}%, tolerance 10%)`,
    ]);
    expect(cmp.warnings).toEqual(['phase init: message round-trip percentiles not compared (100 and 50 replies, fewer than --min-samples 100)']);
  });

  it('without a stream on one side: a note and no rows; on neither: nothing at all', () => {
    const streamed = side(counts(10, 0), {}, histogramOf(1, 10));
    const plain = side(null, {}, createHistogram());
    expect(compareMessages(plain, streamed, OPTIONS)).toEqual({ rows: [], regressions: [], warnings: ['the baseline has no message stream (session.stream): messages are not compared'] });
    expect(compareMessages(streamed, plain, OPTIONS)).toEqual({ rows: [], regressions: [], warnings: ['the candidate has no message stream (session.stream): messages are not compared'] });
    expect(compareMessages(plain, plain, OPTIONS)).toEqual({ rows: [], regressions: [], warnings: [] });
  });
});

describe('renderMessageRows', () => {
  it('a table of base → candidate per scope, aligned; nothing without rows', () => {
    const rows = [
      { scope: 'total', base: { sent: 1000, lost: 10, late: 2, lossRate: 0.01, p: { 50: 1.234, 99: 12 } }, cand: { sent: 998, lost: 0, late: 0, lossRate: 0, p: { 50: 1.5, 99: null } } },
      { scope: 'phase a\u0007b', base: null, cand: { sent: 5, lost: 5, late: 0, lossRate: 1, p: { 50: null, 99: null } } },
    ];
    expect(renderMessageRows(rows, [50, 99], (s) => s.replace(/\p{Cc}/gu, '?'))).toEqual([
      '',
      '  messages         sent     lost %   late   rtt p50 ms  rtt p99 ms',
      '  total      1000 → 998  1.0 → 0.0  2 → 0  1.23 → 1.50   12.00 → -',
      '  phase a?b       - → 5  - → 100.0  - → 0        - → -       - → -',
    ]);
    expect(renderMessageRows([], [50], (s) => s)).toEqual([]);
  });
});

describe('messages.ndjson for compare', () => {
  it('eachLineSync: every line once, across 1 MiB reads and a multi-byte character split between them, the last without a newline', () => {
    const path = join(dir, 'lines.txt');
    const first = 'a'.repeat((1 << 20) - 2) + '€'; // its 3 bytes straddle the first read's end
    const lines = [first, '', 'ünïcödé', 'b'.repeat(1 << 20), 'torn {"i":1,"r":"rep'];
    writeFileSync(path, lines.join('\n'));
    const seen: string[] = [];
    eachLineSync(path, (l) => seen.push(l));
    expect(seen).toEqual(lines);
    writeFileSync(path, 'x\ny\n');
    const two: string[] = [];
    eachLineSync(path, (l) => two.push(l));
    expect(two).toEqual(['x', 'y']);
  });

  it('loadMessageSide: the total from latency.hlog, each phase from messages.ndjson; torn, phase-less and lost lines left out', () => {
    const run = mkdtempSync(join(dir, 'run-'));
    const T0 = 1_700_000_000_000;
    const hlog = new HlogWriter(join(run, 'latency.hlog'), { startTimeMs: T0 });
    hlog.append('message-rtt', T0, T0 + 1000, histogramOf(2, 3));
    hlog.append('message-rtt.init', T0, T0 + 1000, histogramOf(2, 3)); // per phase comes from messages.ndjson, not these
    hlog.append('handshake', T0, T0 + 1000, histogramOf(9, 4));
    hlog.append('message-rtt', T0 + 1000, T0 + 2000, histogramOf(4, 1));
    hlog.close();
    const lines = [
      { i: 1, r: 'replied', seq: 1, sent: 10, rtt: 2, phase: 'init' },
      { i: 1, r: 'late', seq: 2, sent: 20, rtt: 2500, phase: 'init' },
      { i: 1, r: 'lost', seq: 3, sent: 30, code: 1011, phase: 'init' },
      { i: 2, r: 'replied', seq: 1, sent: 1200, rtt: 4, phase: 'ready' },
      { i: 2, r: 'duplicate', seq: 1, at: 1210, phase: 'ready' },
      { i: 3, r: 'replied', seq: 1, sent: 1300, rtt: 7 }, // before correlate gave it a phase
    ];
    writeFileSync(join(run, 'messages.ndjson'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n{"i":4,"r":"replied","rtt":');
    const summary = { messages: counts(6, 1) } as unknown as Summary;
    const loaded = loadMessageSide(run, summary)!;
    expect(loaded.total.totalCount).toBe(4);
    expect(loaded.total.getValueAtPercentile(100)).toBe(histogramOf(4, 1).getValueAtPercentile(100));
    expect([...loaded.phases.keys()]).toEqual(['init', 'ready']);
    expect(loaded.phases.get('init')!.totalCount).toBe(2);
    expect(loaded.phases.get('init')!.getValueAtPercentile(100)).toBe(histogramOf(2500, 1).getValueAtPercentile(100));
    expect(loaded.phases.get('ready')!.totalCount).toBe(1);
    // No messages.ndjson (deleted, or a run folder copied without it): the total still, no phases.
    rmSync(join(run, 'messages.ndjson'));
    const bare = loadMessageSide(run, summary)!;
    expect([bare.total.totalCount, bare.phases.size]).toEqual([4, 0]);
    // No stream: nothing is read.
    expect(loadMessageSide(join(dir, 'does-not-exist'), {} as Summary)).toBeNull();
  });
});
