import { describe, expect, it } from 'vitest';
// record/ tracks the clients; timeline/ reports them by the phase of their first attempt.
import { ClientTracker, connected } from '../src/record/clients.js';
import { attemptCounts, clientsReport, countQuantile, type ClientsReport } from '../src/timeline/clients-report.js';
import { buildTimeline, type PhaseTimeline } from '../src/timeline/attribute.js';
import { createHistogram, latencyStats, recordMs } from '../src/record/histogram.js';
import type { AttemptRecord, OutcomeKind } from '../src/record/attempt.js';

/** The run's clients, folded into summary.json's `clients`. */
function report(records: AttemptRecord[], timeline: PhaseTimeline, t0: number): ClientsReport | undefined {
  const tracker = new ClientTracker();
  for (const r of records) tracker.add(r);
  return clientsReport(tracker.clients(), timeline, t0);
}

const T0 = 1_700_000_000_000;
/** One attempt of client `client` (its first attempt's index), times in ms since T0. */
function attempt(client: number, tryNo: number, sched: number, outcome: OutcomeKind, extra: Partial<AttemptRecord> = {}): AttemptRecord {
  const at = T0 + sched;
  return { i: client * 100 + tryNo, w: 0, sched: at, start: at, tcp: null, up: null, open: null, first: null, end: at + 1, outcome, client, try: tryNo, ...extra };
}
/** A socket that did what its client wanted: opened, completed its script at `ok`, closed by the client. */
const works = (client: number, tryNo: number, sched: number, ok: number) =>
  attempt(client, tryNo, sched, 'close', { open: T0 + ok - 1, ok: T0 + ok, code: 1000, serverClosed: false });
const closed1011 = (client: number, tryNo: number, sched: number) => attempt(client, tryNo, sched, 'close', { open: T0 + sched + 1, code: 1011, serverClosed: true });
const refused = (client: number, tryNo: number, sched: number) => attempt(client, tryNo, sched, 'refused');

/** The latency block a set of durations (ms) makes: the same histogram summary.json uses. */
function statsOf(ms: number[]) {
  const h = createHistogram();
  for (const v of ms) recordMs(h, v);
  return latencyStats(h);
}

/** init from 0, dependencies from 200, ready from 500 (ms since T0). */
const timeline = buildTimeline(
  [
    { kind: 'phase', source: 'log', at: T0, phase: 'init' },
    { kind: 'phase', source: 'log', at: T0 + 200, phase: 'dependencies' },
  ],
  T0,
  500,
);

describe('connected: a socket that worked for its client', () => {
  it('is a close by the client after the script completed', () => {
    expect(connected(works(0, 0, 0, 10))).toBe(true);
    // The server closed it (even after the script): the client did not get what it wanted.
    expect(connected(attempt(0, 0, 0, 'close', { ok: T0 + 5, code: 1000, serverClosed: true }))).toBe(false);
    // Closed by the client but the script never completed.
    expect(connected(attempt(0, 0, 0, 'close', { code: 1000, serverClosed: false }))).toBe(false);
    expect(connected(closed1011(0, 0, 0))).toBe(false);
    expect(connected(attempt(0, 0, 0, 'expect_timeout', { open: T0 + 1 }))).toBe(false);
    expect(connected(refused(0, 0, 0))).toBe(false);
  });
});

describe('ClientTracker: what a user felt, per reconnecting client', () => {
  it('no reconnecting clients: no report', () => {
    const tracker = new ClientTracker();
    const plain: AttemptRecord = { i: 0, w: 0, sched: T0, start: T0, tcp: null, up: null, open: null, first: null, end: T0 + 1, outcome: 'refused' };
    tracker.add(plain);
    expect(tracker.clients()).toEqual([]);
    expect(clientsReport(tracker.clients(), timeline, T0)).toBeUndefined();
  });

  it('time to connected runs from the first attempt\'s scheduled start to the first socket that completed its script', () => {
    const records = [
      // Client 0: first try at 100 (init) refused, 1011 at 180, works at 260 (script done at 275.5).
      refused(0, 0, 100),
      closed1011(0, 1, 180),
      works(0, 2, 260, 275.5),
      // A later socket of the same client works too: it changes nothing.
      works(0, 3, 400, 410),
      // Client 1: first try at 300 (dependencies), works at once.
      works(1, 0, 300, 312.25),
      // Client 2: first try at 499.999 (still dependencies), never connects.
      refused(2, 0, 499.999),
      closed1011(2, 1, 520),
      attempt(2, 2, 600, 'expect_timeout', { open: T0 + 601 }),
      // Client 3: first try exactly at ready.
      works(3, 0, 500, 503),
      // Client 4: first try before T0 (before any phase): unknown.
      refused(4, 0, -50),
      works(4, 1, 30, 42),
    ];
    const r = report(records, timeline, T0)!;
    expect(r).toEqual({
      clients: 5,
      connected: 4,
      neverConnected: 1,
      retries: 11 - 5,
      attemptsPerClient: { mean: 2.2, max: 4, p50: 2, p90: 4, p99: 4, counts: { '4': 1, '1': 2, '3': 1, '2': 1 } },
      timeToConnectedMs: statsOf([175.5, 12.25, 3, 92]),
      byPhase: {
        init: { clients: 1, connected: 1, timeToConnectedMs: statsOf([175.5]) },
        dependencies: { clients: 2, connected: 1, timeToConnectedMs: statsOf([12.25]) },
        ready: { clients: 1, connected: 1, timeToConnectedMs: statsOf([3]) },
        unknown: { clients: 1, connected: 1, timeToConnectedMs: statsOf([92]) },
      },
      dropped: 0,
      drops: 0,
      reconnected: 0,
      neverBack: 0,
      neverBackLast: {},
      gaveUp: { neverConnected: 0, neverBack: 0 },
      reconnectMs: statsOf([]),
      outageMs: statsOf([]),
      retryLagMs: statsOf([]),
      attemptsPerReconnect: { mean: null, max: 0, p50: null, p90: null, p99: null, counts: {} },
    });
    expect(r.timeToConnectedMs.count).toBe(4);
    expect(r.byPhase.dependencies.timeToConnectedMs.count).toBe(1);
  });

  it('times every retry that started against its backoff (start − sched), and no first attempt or dropped retry', () => {
    const tracker = new ClientTracker();
    tracker.add(attempt(0, 0, 100, 'refused', { start: T0 + 140 })); // a first attempt 40 ms late: not a retry
    tracker.add(attempt(0, 1, 300, 'refused', { start: T0 + 300.75 }));
    tracker.add(attempt(0, 2, 700, 'refused', { start: T0 + 712.5 }));
    tracker.add(attempt(0, 3, 1500, 'dropped', { start: null })); // never started: no lateness to time
    tracker.add(works(1, 1, 200, 230)); // started on time
    const r = clientsReport(tracker.clients(), timeline, T0, tracker.reconnects)!;
    expect(r.retryLagMs).toEqual(statsOf([0.75, 12.5, 0]));
    expect(r.retryLagMs.count).toBe(3);
  });

  it('a client\'s first attempt counts even when its record arrives after a retry\'s', () => {
    const r = report([works(7, 1, 150, 160), refused(7, 0, 100)], timeline, T0)!;
    expect(r.timeToConnectedMs).toEqual(statsOf([60]));
    expect(Object.keys(r.byPhase)).toEqual(['init']);
    expect(r.attemptsPerClient).toEqual({ mean: 2, max: 2, p50: 2, p90: 2, p99: 2, counts: { '2': 1 } });
  });

  it('a client that never connects has no time to connected', () => {
    const r = report([refused(0, 0, 10), refused(0, 1, 30), refused(0, 2, 70)], timeline, T0)!;
    expect(r).toMatchObject({ clients: 1, connected: 0, neverConnected: 1, retries: 2, attemptsPerClient: { mean: 3, max: 3, counts: { '3': 1 } } });
    expect(r.timeToConnectedMs.count).toBe(0);
    expect(r.byPhase).toEqual({ init: { clients: 1, connected: 0, timeToConnectedMs: statsOf([]) } });
  });

  it('attempts as counts: a quantile is the smallest count at least ⌈q·n⌉ of them took at most', () => {
    expect(countQuantile({ '1': 950, '3': 50 }, 0.5)).toBe(1);
    expect(countQuantile({ '1': 950, '3': 50 }, 0.95)).toBe(1);
    expect(countQuantile({ '1': 950, '3': 50 }, 0.951)).toBe(3);
    expect(countQuantile({ '1': 99, '5': 1 }, 0.99)).toBe(1);
    expect(countQuantile({ '1': 98, '5': 2 }, 0.99)).toBe(5);
    expect(countQuantile({ '12': 1, '2': 1 }, 0)).toBe(2);
    expect(countQuantile({ '12': 1, '2': 1 }, 1)).toBe(12);
    expect(countQuantile({}, 0.5)).toBeNull();
    expect(attemptCounts({ '1': 3, '7': 1 })).toEqual({ max: 7, p50: 1, p90: 7, p99: 7, counts: { '1': 3, '7': 1 } });
    expect(attemptCounts({})).toEqual({ max: 0, p50: null, p90: null, p99: null, counts: {} });
  });

  it('the mean of attempts per client keeps 3 decimals', () => {
    // 3 clients, 4 attempts: 1.333…
    const r = report([works(0, 0, 0, 1), works(1, 0, 10, 11), refused(2, 0, 20), works(2, 1, 40, 41)], timeline, T0)!;
    expect(r.attemptsPerClient.mean).toBe(1.333);
    expect(r.retries).toBe(1);
  });

  it('without a timeline every client is in unknown', () => {
    const r = report([works(0, 0, 0, 5), works(1, 0, 600, 620)], buildTimeline([], T0, null), T0)!;
    expect(r.byPhase).toEqual({ unknown: { clients: 2, connected: 2, timeToConnectedMs: statsOf([5, 20]) } });
  });
});
