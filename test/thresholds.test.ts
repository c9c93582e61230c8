import { describe, expect, it } from 'vitest';
import type { Histogram } from 'hdr-histogram-js';
import { evaluateThresholds } from '../src/report/thresholds.js';
import { abortDecision, liveView } from '../src/report/live-thresholds.js';
import { thresholdsOf } from '../src/report/summary.js';
import { notLive, parseThreshold, type Threshold } from '../src/scenario/thresholds.js';
import { emptyTotals } from '../src/record/totals.js';
import { METRICS, createHistogram, latencyStats, recordMs, type LatencyStats, type Metric } from '../src/record/histogram.js';
import { abortedLine } from '../src/run/abort.js';

describe('thresholds', () => {
  it('parses path, operator, number and unit', () => {
    expect(parseThreshold('handshakeMs.p99 < 500')).toMatchObject({ path: ['handshakeMs', 'p99'], op: '<', value: 500 });
    expect(parseThreshold('handshakeMs.p99<=0.5s')).toMatchObject({ op: '<=', value: 500 });
    expect(parseThreshold(' totals.closeCodes.1011 == 0 ')).toMatchObject({ expr: 'totals.closeCodes.1011 == 0', path: ['totals', 'closeCodes', '1011'] });
  });

  it('rejects malformed expressions and unknown paths with what was expected', () => {
    expect(() => parseThreshold('handshakeMs.p99 ~ 5')).toThrow(/expected "<path> <op> <number>"/);
    expect(() => parseThreshold('handshake.p99 < 5')).toThrow(/not a summary.json value/);
    expect(() => parseThreshold('totals.bogus > 1')).toThrow(/not a summary.json value/);
  });

  it('rejects a misspelt error kind, close code or status: it would read 0 and pass for ever', () => {
    expect(() => parseThreshold('totals.errors.refusd == 0')).toThrow('"totals.errors.refusd": "refusd" is not an error kind: refused, reset, handshake_timeout, expect_timeout, interrupted, lost, error');
    expect(() => parseThreshold('afterReady.closeCodes.abc == 0')).toThrow('"afterReady.closeCodes.abc": "abc" is not a close code (four digits, e.g. 1011)');
    expect(() => parseThreshold('totals.httpStatus.5030 == 0')).toThrow('"totals.httpStatus.5030": "5030" is not an HTTP status (e.g. 503)');
    expect(() => parseThreshold('steps.s.closed.10 == 0')).toThrow('"steps.s.closed.10": "10" is not a close code (four digits, e.g. 1011)');
    expect(() => parseThreshold('disconnects.closeCodes.106 == 0')).toThrow('"disconnects.closeCodes.106": "106" is not a close code (four digits, e.g. 1006)');
    expect(() => parseThreshold('disconnects.phases.ready.closeCodes.x == 0')).toThrow('"disconnects.phases.ready.closeCodes.x": "x" is not a close code (four digits, e.g. 1006)');
    expect(() => parseThreshold('total.errors.refused == 0')).toThrow(/^"total\.errors\.refused" is not a summary\.json value/); // the block is misspelt, not the kind
    for (const ok of ['totals.errors.handshake_timeout == 0', 'phases.init_db.closeCodes.1011 == 0', 'beforeReady.httpStatus.503 < 5', 'steps.s.closed.4000 == 0']) expect(() => parseThreshold(ok)).not.toThrow();
  });

  it('a name with dots is quoted whole: one key, without its quotes; every plain path reads as before', () => {
    expect(parseThreshold('phases."db.migrate".attempted == 0')).toMatchObject({ expr: 'phases."db.migrate".attempted == 0', path: ['phases', 'db.migrate', 'attempted'], op: '==', value: 0 });
    expect(parseThreshold('phases."db.migrate".handshakeMs.p99<0.5s')).toMatchObject({ path: ['phases', 'db.migrate', 'handshakeMs', 'p99'], op: '<', value: 500 });
    expect(parseThreshold('clients.byPhase."a b.c".timeToConnectedMs.p99 < 2s').path).toEqual(['clients', 'byPhase', 'a b.c', 'timeToConnectedMs', 'p99']);
    expect(parseThreshold('disconnects.phases."db.migrate".closeCodes.1011 == 0').path).toEqual(['disconnects', 'phases', 'db.migrate', 'closeCodes', '1011']);
    expect(parseThreshold('phases."db.migrate".messages.lost == 0').path).toEqual(['phases', 'db.migrate', 'messages', 'lost']);
    for (const block of ['messages', 'phases.ready.messages', 'beforeReady.messages', 'afterReady.messages', 'messages.firstAfterReady']) expect(parseThreshold(`${block}.sendLagMs.p99 < 5`).path).toEqual([...block.split('.'), 'sendLagMs', 'p99']);
    expect(parseThreshold('phases."websocket".opened > 0').path).toEqual(['phases', 'websocket', 'opened']);
    expect(parseThreshold('"totals".closeCodes."1011" == 0').path).toEqual(['totals', 'closeCodes', '1011']);
    expect(parseThreshold('phases.init_db.closeCodes.1011 == 0').path).toEqual(['phases', 'init_db', 'closeCodes', '1011']);
    expect(parseThreshold('steps.expect-1.passed > 0').path).toEqual(['steps', 'expect-1', 'passed']);
    for (const block of ['attemptsPerClient', 'attemptsPerReconnect']) for (const stat of ['mean', 'max', 'p50', 'p90', 'p99']) expect(parseThreshold(`clients.${block}.${stat} <= 3`).path).toEqual(['clients', block, stat]);
    expect(() => parseThreshold('clients.attemptsPerReconnect.p95 <= 3')).toThrow(/is not a summary\.json value/);
  });

  it('a quoted name stands only where a name may: not as a block, a count or a close code', () => {
    const general = (p: string) => `"${p}" is not a summary.json value a threshold can check (expected e.g. totals.closeCodes.1011, afterReady.httpStatus.503, phases.websocket.closeCodes.1011, phases."db.migrate".attempted, handshakeMs.p99, ready.atMs, health.firstAnswerMs, outage.longest503Ms, disconnects.closeCodes.1006, clients.outageMs.p99, clients.neverBack)`;
    expect(() => parseThreshold('phases.db.migrate.attempted == 0')).toThrow(general('phases.db.migrate.attempted'));
    expect(() => parseThreshold('"tot.als".attempted == 0')).toThrow(general('"tot.als".attempted'));
    expect(() => parseThreshold('phases."db.migrate"."atte.mpted" == 0')).toThrow(general('phases."db.migrate"."atte.mpted"'));
    expect(() => parseThreshold('phases."db.migrate".closeCodes."10.11" == 0')).toThrow('"phases."db.migrate".closeCodes."10.11"": "10.11" is not a close code (four digits, e.g. 1011)');
    expect(() => parseThreshold('phases."db.migrate".errors.refusd == 0')).toThrow('"phases."db.migrate".errors.refusd": "refusd" is not an error kind: refused, reset, handshake_timeout, expect_timeout, interrupted, lost, error');
  });

  it('a malformed quote says what is wrong', () => {
    expect(() => parseThreshold('phases."db.migrate.attempted == 0')).toThrow('"phases."db.migrate.attempted": the quote at character 8 is never closed (quote a whole name: phases."db.migrate".attempted)');
    expect(() => parseThreshold('phases."db.migrate"attempted == 0')).toThrow('"phases."db.migrate"attempted": a quoted name is a whole key, followed by a dot or the end (e.g. phases."db.migrate".attempted)');
    expect(() => parseThreshold('phases.db"x".opened == 0')).toThrow('"phases.db"x".opened": a quoted name is a whole key, after a dot or at the start (e.g. phases."db.migrate".attempted)');
    expect(() => parseThreshold('phases."".opened == 0')).toThrow('"phases."".opened": an empty key (expected names between the dots, e.g. phases."db.migrate".attempted)');
    expect(() => parseThreshold('phases..".opened" == 0')).toThrow('"phases..".opened"": an empty key (expected names between the dots, e.g. phases."db.migrate".attempted)');
    expect(() => parseThreshold('phases."a". == 0')).toThrow('"phases."a".": an empty key (expected names between the dots, e.g. phases."db.migrate".attempted)');
  });

  it('evaluates a quoted phase against the summary key with the dots; an absent one reads 0', () => {
    const summary = { phases: { 'db.migrate': { attempted: 7, closeCodes: {}, handshakeMs: { p99: 40 } } }, disconnects: { phases: {} } };
    const results = evaluateThresholds(
      ['phases."db.migrate".attempted == 7', 'phases."db.migrate".closeCodes.1011 == 0', 'phases."db.migrate".handshakeMs.p99 < 40', 'phases."db.other".opened == 0', 'disconnects.phases."db.migrate".total == 0'].map(parseThreshold),
      summary,
    );
    expect(results.map((r) => [r.ok, r.actual])).toEqual([[true, 7], [true, 0], [false, 40], [true, 0], [true, 0]]);
  });

  it('evaluates; an absent count reads 0, an absent latency fails', () => {
    const summary = { totals: { closeCodes: { '1000': 4 }, httpStatus: {}, errors: { refused: 2 } }, handshakeMs: { p99: 120.5 }, firstMessageMs: { p99: null } };
    const results = evaluateThresholds(
      ['totals.closeCodes.1011 == 0', 'totals.errors.refused < 2', 'handshakeMs.p99 < 121', 'handshakeMs.p99 > 1s', 'firstMessageMs.p99 < 10', 'totals.httpStatus.503 != 0'].map(parseThreshold),
      summary,
    );
    expect(results.map((r) => [r.ok, r.actual])).toEqual([
      [true, 0],
      [false, 2],
      [true, 120.5],
      [false, 120.5],
      [false, null],
      [false, 0],
    ]);
  });
});

describe('per-drop times when nothing dropped', () => {
  it('an upper bound holds when nothing dropped (a deploy no client felt); a lower bound, and an upper bound on a measured one, are judged as ever', () => {
    const empty = { count: 0, p50: null, p99: null, max: null };
    const summary = { clients: { dropped: 0, retries: 3, outageMs: empty, reconnectMs: empty, retryLagMs: { count: 3, p50: 1, p99: null, max: 4 }, timeToConnectedMs: empty } };
    const results = evaluateThresholds(
      ['clients.outageMs.p99 < 3000', 'clients.reconnectMs.max <= 1s', 'clients.outageMs.p99 > 0', 'clients.outageMs.p99 == 0', 'clients.retryLagMs.p99 < 10', 'clients.timeToConnectedMs.p99 < 3000'].map(parseThreshold),
      summary,
    );
    expect(results.map((r) => [r.ok, r.actual])).toEqual([
      [true, null],
      [true, null],
      [false, null],
      [false, null],
      [false, null], // counted 3 retries but has no p99: a missing value fails
      [false, null], // not a per-drop time: every client should have connected
    ]);
    // Dropped and none back: the outage histogram is empty too, and the bound fails. Nothing retried: the retries' lag holds.
    const noneBack = { clients: { dropped: 5, retries: 0, outageMs: empty, reconnectMs: empty, retryLagMs: empty } };
    expect(evaluateThresholds(['clients.outageMs.p99 < 3000', 'clients.reconnectMs.p99 < 3000', 'clients.retryLagMs.p99 < 10'].map(parseThreshold), noneBack).map((r) => r.ok)).toEqual([false, false, true]);

    // Of them, who stopped trying: a count like any other.
    const gave = { clients: { neverBack: 5, gaveUp: { neverConnected: 0, neverBack: 2 } } };
    expect(evaluateThresholds(['clients.gaveUp.neverBack == 0', 'clients.gaveUp.neverConnected == 0'].map(parseThreshold), gave).map((r) => [r.ok, r.actual])).toEqual([
      [false, 2],
      [true, 0],
    ]);
  });
});

describe('abortOnFail thresholds while the run goes', () => {
  const abortOn = (expr: string, delayMs?: number): Threshold => ({ ...parseThreshold(expr), abortOnFail: true, ...(delayMs !== undefined ? { delayMs } : {}) });
  const view = (httpStatus: Record<string, number>, p99: number | null = null) => ({ totals: { ...emptyTotals(), httpStatus }, handshakeMs: { p99 } });

  it('stops on the first failing one once its delay has passed since the schedule start, not a millisecond before', () => {
    const t503 = abortOn('totals.httpStatus.503 < 20', 1000);
    expect(abortDecision([t503], view({ '503': 20 }), 999.999)).toBeNull();
    expect(abortDecision([t503], view({ '503': 20 }), 1000)).toEqual({ expr: 'totals.httpStatus.503 < 20', actual: 20 });
    expect(abortDecision([t503], view({ '503': 19 }), 60_000)).toBeNull();
    // In list order: the first that fails is the one named.
    const t1011 = abortOn('totals.closeCodes.1011 == 0');
    const failing = { totals: { ...emptyTotals(), httpStatus: { '503': 25 }, closeCodes: { '1011': 1 } } };
    expect(abortDecision([t1011, t503], failing, 500)).toEqual({ expr: 'totals.closeCodes.1011 == 0', actual: 1 });
    expect(abortDecision([t503, t1011], failing, 1000)).toEqual({ expr: 'totals.httpStatus.503 < 20', actual: 25 });
  });

  it('ignores thresholds without abortOnFail, and a latency with nothing measured yet', () => {
    expect(abortDecision([parseThreshold('totals.httpStatus.503 < 20')], view({ '503': 99 }), 10_000)).toBeNull();
    const p99 = abortOn('handshakeMs.p99 < 500ms');
    expect(abortDecision([p99], view({}, null), 10_000)).toBeNull();
    expect(abortDecision([p99], view({}, 499.999), 10_000)).toBeNull();
    expect(abortDecision([p99], view({}, 500), 10_000)).toEqual({ expr: 'handshakeMs.p99 < 500ms', actual: 500 });
    // A count that never happened reads 0: "at least this many opened" fails once its delay is over.
    expect(abortDecision([abortOn('totals.opened >= 1', 2000)], view({}), 2000)).toEqual({ expr: 'totals.opened >= 1', actual: 0 });
  });

  it('the live view: the merged totals as they are, and the latencies the thresholds name from the merged histograms', () => {
    const histograms = Object.fromEntries(METRICS.map((m) => [m, createHistogram()])) as Record<Metric, Histogram>;
    for (const ms of [1, 2, 3, 4]) recordMs(histograms.handshake, ms);
    const totals = emptyTotals();
    const v = liveView([abortOn('handshakeMs.max < 5'), abortOn('totals.opened > 0'), abortOn('scheduleLagMs.p99 < 5')], totals, histograms);
    expect(Object.keys(v)).toEqual(['totals', 'handshakeMs', 'scheduleLagMs']);
    expect(v.totals).toBe(totals);
    expect(v.handshakeMs).toEqual(latencyStats(histograms.handshake));
    expect((v.handshakeMs as LatencyStats).count).toBe(4);
    expect((v.scheduleLagMs as LatencyStats).p99).toBeNull();
  });

  it('every path LIVE_PATHS allows reads a number from the live view, so none passes for ever on a missing block', () => {
    const histograms = Object.fromEntries(METRICS.map((m) => [m, createHistogram()])) as Record<Metric, Histogram>;
    for (const m of METRICS) recordMs(histograms[m], 7);
    const paths = ['totals.attempted', 'totals.opened', 'totals.dropped', 'totals.closeCodes.1011', 'totals.httpStatus.503', 'totals.errors.refused', 'handshakeMs.p99', 'handshakeFailMs.count', 'loopDelayMs.max', 'scheduleLagMs.mean'];
    const defs = paths.map((p) => abortOn(`${p} < 0`));
    for (const t of defs) expect(notLive(t)).toBeNull();
    const results = evaluateThresholds(defs, liveView(defs, emptyTotals(), histograms));
    expect(results.map((r) => typeof r.actual)).toEqual(paths.map(() => 'number'));
  });

  it('summary.json keeps the entry shape plus abortOnFail, and reads it back', () => {
    const defs = [parseThreshold('totals.opened > 0'), abortOn('totals.httpStatus.503 < 20', 1000)];
    const results = evaluateThresholds(defs, { totals: { ...emptyTotals(), opened: 3 } });
    expect(results).toEqual([
      { expr: 'totals.opened > 0', ok: true, actual: 3 },
      { expr: 'totals.httpStatus.503 < 20', ok: true, actual: 0, abortOnFail: true },
    ]);
    // The delay mattered only while the run went: a re-judged summary does not need it.
    expect(thresholdsOf({ thresholds: results })).toEqual([defs[0], { ...parseThreshold('totals.httpStatus.503 < 20'), abortOnFail: true }]);
  });

  it('the console line says which threshold, when (from T0) and what it read', () => {
    expect(abortedLine({ expr: 'totals.httpStatus.503 < 20', actual: 20, atMs: 12_345.6 })).toBe('aborted: threshold `totals.httpStatus.503 < 20` failed at +12.3 s (actual 20)');
  });
});
