import { describe, expect, it } from 'vitest';
import { createHistogram, latencyStats, recordMs } from '../src/record/histogram.js';
import { POPULATION_BASE } from '../src/record/attempt.js';
import { emptyTotals, type Totals } from '../src/record/totals.js';
import { clientsStats, compareClients, type ClientsStats } from '../src/report/compare-population.js';
import { codeSeries, PopulationAccumulator } from '../src/report/population-data.js';
import { codeMix, populationFindings, type PopulationFindingsInput } from '../src/report/population-findings.js';
import type { ClientsReport } from '../src/timeline/clients-report.js';
import { BurstFinder } from '../src/timeline/disconnect-burst.js';

const stats = (...ms: number[]) => {
  const h = createHistogram();
  for (const v of ms) recordMs(h, v);
  return latencyStats(h);
};
const totals = (t: Partial<Totals>): Totals => ({ ...emptyTotals(), ...t, errors: { ...emptyTotals().errors, ...t.errors } });

function clientsReport(over: Partial<ClientsReport> = {}): ClientsReport {
  return {
    clients: 5000,
    connected: 5000,
    neverConnected: 0,
    retries: 0,
    attemptsPerClient: { mean: 1, max: 1, p50: 1, p90: 1, p99: 1, counts: {} },
    timeToConnectedMs: stats(),
    byPhase: {},
    dropped: 4980,
    drops: 5000,
    reconnected: 4960,
    neverBack: 20,
    neverBackLast: { http_503: 12, handshake_timeout: 8 },
    gaveUp: { neverConnected: 0, neverBack: 8 },
    reconnectMs: stats(),
    outageMs: stats(1200, 6100),
    retryLagMs: stats(),
    attemptsPerReconnect: { mean: 1.8, max: 7, p50: 1, p90: 4, p99: 7, counts: {} },
    ...over,
  };
}

describe('the dominant disconnect burst', () => {
  it('joins disconnects with gaps under 500 ms into one burst and picks the largest, exact first and last close', () => {
    const f = new BurstFinder();
    for (const t of [1000, 1050]) f.add(t, '1006'); // a burst of 2
    for (let i = 0; i < 10; i++) f.add(31_210 + i * 80, i < 7 ? '1012' : '1006'); // 31.21 … 31.93 s, no gap
    f.add(32_390, '1012'); // 460 ms after: still the same burst (4 empty buckets)
    f.add(40_000, '1001');
    expect(f.result()).toEqual({ fromMs: 31_210, toMs: 32_390, count: 11, closeCodes: { '1012': 8, '1006': 3 } });
    expect(new BurstFinder().result()).toBeNull();
  });

  it('a 500 ms gap ends a burst; of equals the earliest wins', () => {
    const f = new BurstFinder();
    f.add(100, '1006');
    f.add(650, '1006'); // buckets 1 and 6: four empty between … 400 ms: joined
    f.add(1200, '1006'); // bucket 12: five empty (500 ms): a new burst
    f.add(1250, '1006');
    expect(f.result()).toEqual({ fromMs: 100, toMs: 650, count: 2, closeCodes: { '1006': 2 } });
  });
});

describe('population findings, in plain words', () => {
  const base: PopulationFindingsInput = {
    disconnects: { total: 5000, closeCodes: { '1006': 4990, '1012': 10 }, phases: { ready: { total: 5000, closeCodes: { '1006': 4990, '1012': 10 } } } },
    burst: { fromMs: 31_210, toMs: 31_800, count: 4980, closeCodes: { '1006': 4980 } },
    clients: clientsReport({ retriesByPhase: { dependencies: totals({ attempted: 1500, opened: 1204, closeCodes: { '1011': 1204 } }), ready: totals({ attempted: 900, opened: 880, closeCodes: { '1000': 880 }, httpStatus: { '503': 20 } }) } }),
    restarts: [{ startMs: 25_000, readyAtMs: 30_100, failedAtMs: null }],
    timeline: [
      { phase: 'init', startMs: 0, endMs: 900 },
      { phase: 'ready', startMs: 900, endMs: 25_000 },
      { phase: 'dependencies', startMs: 25_000, endMs: 30_100 },
      { phase: 'ready', startMs: 30_100, endMs: null },
    ],
  };

  it('the cut with its time and the startup it came after, the herd, the outage and who never came back', () => {
    expect(populationFindings(base)).toEqual([
      '4,980 of 5,000 clients were cut (1006) at +31.21 s, 1.11 s after the new startup reported ready at +30.10 s; 20 more at other times (1006 ×10, 1012 ×10)',
      '1,204 reconnect attempts hit 1011 on the new startup during dependencies',
      '20 reconnect attempts were rejected with HTTP 503 during ready',
      '4,980 clients were dropped (5,000 drops); p99 outage 6.10 s (p50 1.20 s, max 6.10 s), 1.8 attempts per comeback (max 7); 20 never came back (their last attempts: 12 http_503, 8 handshake_timeout; of them, 8 had stopped retrying and 12 were still retrying at the end)',
    ]);
  });

  it('who never came back: all stopped, all still retrying, one still retrying; an older summary without the count says only the outcomes', () => {
    const tail = (over: Partial<ClientsReport>) => populationFindings({ ...base, clients: clientsReport(over) }).at(-1)!.replace(/^.*never came back/, '');
    expect(tail({ gaveUp: { neverConnected: 0, neverBack: 20 } })).toBe(' (their last attempts: 12 http_503, 8 handshake_timeout; all had stopped retrying)');
    expect(tail({ gaveUp: { neverConnected: 0, neverBack: 0 }, neverBackLast: {} })).toBe(' (all were still retrying at the end)');
    expect(tail({ neverBack: 2, gaveUp: { neverConnected: 0, neverBack: 1 }, neverBackLast: { http_503: 2 } })).toBe(' (their last attempts: 2 http_503; of them, 1 had stopped retrying and 1 was still retrying at the end)');
    expect(tail({ gaveUp: undefined, neverBackLast: undefined })).toBe('');
  });

  it('without a timeline the herd\'s failures name no phase (every retry was in unknown)', () => {
    const clients = clientsReport({ retriesByPhase: { unknown: totals({ attempted: 50_003, opened: 29_440, closeCodes: { '1006': 54 }, errors: { ...emptyTotals().errors, handshake_timeout: 20_617 } }) } });
    expect(populationFindings({ ...base, clients, restarts: null, burst: null, timeline: [] }).slice(1, 3)).toEqual(['20,617 reconnect attempts timed out in the handshake', '54 reconnect attempts hit 1006']);
  });

  it('a drain over seconds, a cut before any new startup; arrivals without dropped clients: no finding of a cut', () => {
    const clients = clientsReport({ neverBack: 0 });
    const out = populationFindings({ ...base, clients, restarts: null, burst: { fromMs: 2500, toMs: 4600, count: 5000, closeCodes: { '1012': 4000, '1006': 1000 } } });
    expect(out[0]).toBe('5,000 of 5,000 clients were cut (1012 ×4,000, 1006 ×1,000) from +2.50 s to +4.60 s, during ready');
    expect(out[1]).toMatch(/; all came back$/);
    expect(populationFindings({ ...base, clients: null })).toEqual([]);
  });

  it('without the events (an older run): the phase most disconnects closed in; all came back', () => {
    const clients = clientsReport({ dropped: 3, drops: 4, reconnected: 3, neverBack: 0, outageMs: stats(250), attemptsPerReconnect: { mean: 1, max: 1, p50: 1, p90: 1, p99: 1, counts: { '1': 4 } } });
    expect(populationFindings({ ...base, burst: undefined, clients, timeline: [] })).toEqual([
      '5,000 connections were cut (1006 ×4,990, 1012 ×10), most during ready',
      '3 clients were dropped (4 drops); p99 outage 250 ms (p50 250 ms, max 250 ms), 1 attempt per comeback (max 1); all came back',
    ]);
    expect(populationFindings({ timeline: [] })).toEqual([]);
    expect(codeMix({ '1012': 3 })).toBe('1012');
  });
});

describe('report.html data of a population', () => {
  const P = POPULATION_BASE;
  it('sockets open at each bucket end, disconnects by close bucket and code, retries by outcome', () => {
    const acc = new PopulationAccumulator(1000, codeSeries({ '1012': 2, '1006': 1, '4000': 1 }).slice(0, 2));
    // Two clients connect in second 0, are cut in second 2 (1012), retry: one worked, one hit 1011 then worked; then it is cut by 1006, and by 4000 (other).
    acc.add({ sched: 0, open: 10, end: 2500, outcome: 'close', code: 1012, serverClosed: true, client: P, try: 0, ok: 10 });
    acc.add({ sched: 100, open: 120, end: 2600, outcome: 'close', code: 1012, serverClosed: true, client: P + 1, try: 0, ok: 120 });
    acc.add({ sched: 2750, open: 2760, end: 6000, outcome: 'close', code: 1000, serverClosed: false, client: P, try: 1, ok: 2760 });
    acc.add({ sched: 2850, open: 2860, end: 2870, outcome: 'close', code: 1011, serverClosed: true, client: P + 1, try: 1 });
    acc.add({ sched: 3200, open: null, end: 3210, outcome: 'http', status: 503, client: P + 1, try: 2 });
    acc.add({ sched: 3600, open: 3610, end: 4700, outcome: 'close', code: 1006, serverClosed: true, client: P + 1, try: 3, ok: 3610 });
    acc.add({ sched: 4750, open: 4760, end: 5900, outcome: 'close', code: 4000, serverClosed: true, client: P + 1, try: 4, ok: 4760 });
    // A third client's socket closed 1012 0.49 s after it opened (no stream): it never served its client, so it is no disconnect.
    acc.add({ sched: 200, open: 210, end: 700, outcome: 'close', code: 1012, serverClosed: true, client: P + 2, try: 0, ok: 210 });
    // An arrival (load.stages beside the population) open from 1.5 s to 3.5 s: its own line, not a connected client.
    acc.add({ sched: 1490, open: 1500, end: 3500, outcome: 'close', code: 1000, serverClosed: false, client: 7 });
    expect(acc.seen).toBe(true);
    const r = acc.result(6000);
    expect(r.t).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(r.connected).toEqual([2, 2, 1, 2, 2, 1, 0]);
    expect(r.arrivals).toEqual([0, 1, 1, 0, 0, 0, 0]);
    expect(r.disconnects).toEqual([
      { code: '1012', counts: [0, 0, 2, 0, 0, 0, 0] },
      { code: '1006', counts: [0, 0, 0, 0, 1, 0, 0] },
      { code: 'other', counts: [0, 0, 0, 0, 0, 1, 0] }, // the 4000; the retry closed 1011 at once is the herd's, not a disconnect
    ]);
    expect(r.herd.opened).toEqual([0, 0, 1, 1, 1, 0, 0]);
    expect(r.herd.c1011).toEqual([0, 0, 1, 0, 0, 0, 0]);
    expect(r.herd.http503).toEqual([0, 0, 0, 1, 0, 0, 0]);
    const none = new PopulationAccumulator(1000, []);
    none.add({ sched: 0, open: 1, end: 2, outcome: 'close', code: 1000, serverClosed: false });
    expect(none.seen).toBe(false);
    expect(none.result(1000).disconnects).toEqual([]);
    expect(none.result(1000).arrivals).toEqual([0]);
    const clientsOnly = new PopulationAccumulator(1000, []);
    clientsOnly.add({ sched: 0, open: 1, end: 2, outcome: 'close', code: 1000, serverClosed: false, client: P });
    expect(clientsOnly.result(1000).arrivals).toBeUndefined();
  });
});

describe('compare: clients judged like outcome counts and latencies', () => {
  const side = (over: Partial<ClientsStats>): ClientsStats => ({ clients: 1000, dropped: 1000, neverBack: 0, disconnects: 1000, closeCodes: { '1012': 1000 }, outage: { 50: 300, 99: 900 }, comebacks: 1000, ...over });
  const o = { failureTolerancePp: 1, latencyTolerancePct: 10, minLatencyDeltaMs: 1, minSamples: 100, percentiles: [50, 99] };

  it('a new disconnect code, clients never back where none were, more dropped, a slower outage', () => {
    const cand = side({ dropped: 1000, neverBack: 30, closeCodes: { '1012': 900, '1006': 100 }, outage: { 50: 310, 99: 1500 } });
    expect(compareClients(side({ dropped: 500 }), cand, o)).toEqual({
      regressions: [
        'new disconnect code: 1006 ×100 (absent in the baseline)',
        'clients never back: 0 → 30 (none in the baseline)',
        'clients dropped: 50.0% → 100.0% of clients (+50.0 pp, tolerance 1 pp)',
        'clients: outage p99 900.00 ms → 1500.00 ms (+67%, tolerance 10%)',
      ],
      warnings: [],
    });
  });

  it('within tolerance: no regression; too few comebacks: the outage is not compared; no clients: nothing', () => {
    expect(compareClients(side({ neverBack: 5 }), side({ neverBack: 14, outage: { 50: 330, 99: 980 } }), o)).toEqual({ regressions: [], warnings: [] });
    expect(compareClients(side({ comebacks: 50 }), side({ outage: { 50: 3000, 99: 9000 } }), o)).toEqual({ regressions: [], warnings: ['clients: outage percentiles not compared (50 and 1000 comebacks, fewer than --min-samples 100)'] });
    expect(compareClients(side({}), null, o)).toEqual({ regressions: [], warnings: [] });
    expect(compareClients(null, side({}), o).warnings).toHaveLength(1);
    expect(clientsStats({ disconnects: { total: 0, closeCodes: {}, phases: {} } }, [50])).toBeNull();
    expect(clientsStats({ clients: clientsReport(), disconnects: { total: 7, closeCodes: { '1006': 7 }, phases: {} } }, [50, 99])).toEqual({
      clients: 5000,
      dropped: 4980,
      neverBack: 20,
      disconnects: 7,
      closeCodes: { '1006': 7 },
      outage: { 50: clientsReport().outageMs.p50, 99: clientsReport().outageMs.p99 },
      comebacks: 2,
    });
  });
});
