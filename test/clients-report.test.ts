import { describe, expect, it } from 'vitest';
import { ClientTracker } from '../src/record/clients.js';
import type { AttemptRecord } from '../src/record/attempt.js';
import { clientsReport } from '../src/timeline/clients-report.js';
import type { PhaseTimeline } from '../src/timeline/attribute.js';
import { createHistogram, latencyStats } from '../src/record/histogram.js';

const T0 = 1_000_000;
const attempt = (client: number, tryNo: number, sched: number, worked: boolean): AttemptRecord => ({
  i: client * 100 + tryNo,
  w: 0,
  sched: T0 + sched,
  start: T0 + sched,
  tcp: null,
  up: null,
  open: worked ? T0 + sched + 5 : null,
  first: null,
  end: T0 + sched + 10,
  client,
  try: tryNo,
  ...(worked ? { outcome: 'close' as const, code: 1000, serverClosed: false, ok: T0 + sched + 8 } : { outcome: 'http' as const, status: 503 }),
});
const timeline: PhaseTimeline = { spans: [{ phase: 'init', startMs: 0, endMs: 100 }, { phase: 'ready', startMs: 100, endMs: null }], readyAtMs: 100, failedAtMs: null };

/** The drop fields of a report whose clients were never cut. */
const NO_DROPS = { dropped: 0, drops: 0, reconnected: 0, neverBack: 0, neverBackLast: {}, gaveUp: { neverConnected: 0, neverBack: 0 }, reconnectMs: latencyStats(createHistogram()), outageMs: latencyStats(createHistogram()), retryLagMs: latencyStats(createHistogram()), attemptsPerReconnect: { mean: null, max: 0, p50: null, p90: null, p99: null, counts: {} } };

describe('reconnecting clients: tracking (record/) and the report by phase (timeline/)', () => {
  it('follows each client from its first attempt to the first socket that worked', () => {
    const tracker = new ClientTracker();
    tracker.add(attempt(1, 0, 20, false));
    tracker.add(attempt(1, 1, 60, false));
    tracker.add(attempt(1, 2, 150, true));
    tracker.add(attempt(1, 3, 300, true)); // a later success does not move connectedAt
    tracker.add(attempt(2, 0, 120, true));
    tracker.add(attempt(3, 0, 50, false));
    tracker.add({ ...attempt(9, 0, 1, true), client: undefined }); // not a reconnecting client
    expect(tracker.clients()).toEqual([
      { firstSched: T0 + 20, attempts: 4, connectedAt: T0 + 158, drops: 0, back: 0, droppedAt: null, sinceDrop: 0, last: '1000', gaveUp: false, lastTry: 3 },
      { firstSched: T0 + 120, attempts: 1, connectedAt: T0 + 128, drops: 0, back: 0, droppedAt: null, sinceDrop: 0, last: '1000', gaveUp: false, lastTry: 0 },
      { firstSched: T0 + 50, attempts: 1, connectedAt: null, drops: 0, back: 0, droppedAt: null, sinceDrop: 0, last: 'http_503', gaveUp: false, lastTry: 0 },
    ]);
  });

  it('a first attempt that arrives after a retry still sets the start, and leaves the latest attempt\'s outcome', () => {
    const tracker = new ClientTracker();
    tracker.add(attempt(4, 1, 80, true));
    tracker.add(attempt(4, 0, 30, false));
    expect(tracker.clients()).toEqual([{ firstSched: T0 + 30, attempts: 2, connectedAt: T0 + 88, drops: 0, back: 0, droppedAt: null, sinceDrop: 0, last: '1000', gaveUp: false, lastTry: 1 }]);
  });

  it('counts clients, retries and attempts per client, and attributes each client to its first attempt\'s phase', () => {
    const clients = [
      { firstSched: T0 + 20, attempts: 3, connectedAt: T0 + 158, drops: 0, back: 0, droppedAt: null, sinceDrop: 0, last: '1000', gaveUp: false, lastTry: 2 },
      { firstSched: T0 + 120, attempts: 1, connectedAt: T0 + 128, drops: 0, back: 0, droppedAt: null, sinceDrop: 0, last: '1000', gaveUp: false, lastTry: 0 },
      { firstSched: T0 + 50, attempts: 1, connectedAt: null, drops: 0, back: 0, droppedAt: null, sinceDrop: 0, last: 'http_503', gaveUp: false, lastTry: 0 },
    ];
    const r = clientsReport(clients, timeline, T0)!;
    expect({ ...r, timeToConnectedMs: r.timeToConnectedMs.count, byPhase: Object.fromEntries(Object.entries(r.byPhase).map(([p, b]) => [p, { ...b, timeToConnectedMs: b.timeToConnectedMs.count }])) }).toEqual({
      clients: 3,
      connected: 2,
      neverConnected: 1,
      retries: 2,
      attemptsPerClient: { mean: 1.667, max: 3, p50: 1, p90: 3, p99: 3, counts: { '1': 2, '3': 1 } },
      timeToConnectedMs: 2,
      byPhase: { init: { clients: 2, connected: 1, timeToConnectedMs: 1 }, ready: { clients: 1, connected: 1, timeToConnectedMs: 1 } },
      ...NO_DROPS,
    });
    // Time to connected: from the first attempt's schedule (138 ms and 8 ms), to HDR's 3 significant digits.
    expect(r.byPhase.init.timeToConnectedMs.max).toBeCloseTo(138, 0);
    expect(r.byPhase.ready.timeToConnectedMs.max).toBeCloseTo(8, 1);
    expect(r.timeToConnectedMs.min).toBeCloseTo(8, 1);
  });

  it('has no report without clients', () => {
    expect(clientsReport([], timeline, T0)).toBeUndefined();
  });
});
