import { describe, expect, it } from 'vitest';
import { POPULATION_BASE, type AttemptRecord } from '../src/record/attempt.js';
import { ClientTracker, disconnected, SERVED_AFTER_MS, servedAfterOf, worked } from '../src/record/clients.js';
import { isPopulationClient, populationRetryDelay, populationShare } from '../src/engine/population.js';
import type { PopulationSettings } from '../src/engine/protocol.js';

const pop: PopulationSettings = { clients: 5, overMs: 1000, endMs: 10_000, reconnect: { on: ['1006', '1012', 'refused'], max: 3, initialMs: 100, factor: 2, maxMs: 1000, jitter: 0 } };

describe('population: clients spread over `over`, striped like the schedule', () => {
  it('client k at start + k·over/clients, on stripe k mod count, its first attempt its own client', () => {
    expect(populationShare(pop, { index: 0, count: 1 }, 5000).map((a) => [a.i - POPULATION_BASE, a.sched, a.client! - POPULATION_BASE, a.try])).toEqual([
      [0, 5000, 0, 0],
      [1, 5200, 1, 0],
      [2, 5400, 2, 0],
      [3, 5600, 3, 0],
      [4, 5800, 4, 0],
    ]);
    expect(populationShare(pop, { index: 1, count: 2 }, 0).map((a) => a.i - POPULATION_BASE)).toEqual([1, 3]);
    expect(populationShare(pop, { index: 4, count: 6 }, 0).map((a) => a.i - POPULATION_BASE)).toEqual([4]);
    expect(populationShare(pop, { index: 5, count: 6 }, 0)).toEqual([]);
    expect(populationShare(null, { index: 0, count: 1 }, 0)).toEqual([]);
    expect([isPopulationClient(POPULATION_BASE), isPopulationClient(POPULATION_BASE - 1), isPopulationClient(undefined)]).toEqual([true, false, false]);
  });

  it('retries on the listed outcomes, the backoff growing with failures in a row and starting over after a socket that worked', () => {
    const rec = (outcome: AttemptRecord['outcome'], code?: number): AttemptRecord => ({ i: 1, w: 0, sched: 0, start: 0, tcp: 0, up: 0, open: 0, first: null, end: 0, outcome, code, client: POPULATION_BASE, try: 7 });
    expect(populationRetryDelay(pop, rec('close', 1012), 0, 0.5)).toBe(100); // a drop: from the initial delay, whatever `try` says
    expect(populationRetryDelay(pop, rec('refused'), 1, 0.5)).toBe(200);
    expect(populationRetryDelay(pop, rec('refused'), 2, 0.5)).toBe(400);
    expect(populationRetryDelay(pop, rec('refused'), 3, 0.5)).toBeNull(); // max failures in a row: the client gives up
    expect(populationRetryDelay(pop, rec('close', 1000), 0, 0.5)).toBeNull(); // not listed
  });
});

describe('ClientTracker: drops and comebacks', () => {
  const at = (client: number, t: number, r: Partial<AttemptRecord>): AttemptRecord => ({ i: t, w: 0, sched: t, start: t, tcp: t, up: t, open: null, first: null, end: t + 1, outcome: 'refused', client: POPULATION_BASE + client, try: 1, ...r });
  it('a drop, failed retries, then a socket that works: one comeback, its time and attempts; a client cut at the end never came back', () => {
    const tracker = new ClientTracker(false);
    tracker.add(at(0, 0, { try: 0, open: 1, ok: 1, end: 1500, outcome: 'close', code: 1012, serverClosed: true }));
    tracker.add(at(0, 1600, {}));
    // No stream: accepted and closed 1011 3 ms later (racy's 101 then 1011) never served the client; no comeback, no second drop.
    tracker.add(at(0, 1700, { open: 1702, ok: 1702, end: 1705, outcome: 'close', code: 1011, serverClosed: true }));
    tracker.add(at(0, 1800, { open: 1805, ok: 1810, end: 5000, outcome: 'close', code: 1000, serverClosed: false }));
    tracker.add(at(1, 0, { try: 0, open: 2, ok: 2, end: 4000, outcome: 'close', code: 1006, serverClosed: true }));
    tracker.add(at(1, 4200, {}));
    const [c0, c1] = tracker.clients();
    expect([c0.drops, c0.back, c0.droppedAt, c0.connectedAt]).toEqual([1, 1, null, 1]);
    expect([c1.drops, c1.back, c1.droppedAt]).toEqual([1, 0, 4000]);
    expect(tracker.reconnects.reconnectMs.totalCount).toBe(1);
    expect(Math.abs(tracker.reconnects.reconnectMs.maxValue / 1e6 - 310)).toBeLessThan(0.31); // the drop at 1500 → ok at 1810, within HDR's 3 digits
    expect(tracker.reconnects.attempts).toEqual({ '3': 1 });
  });

  it('without a stream, a socket served its client once the server left it open SERVED_AFTER_MS after its steps; a cut before that is no drop', () => {
    const sock = (okAt: number, end: number, serverClosed: boolean) => ({ open: okAt - 1, ok: okAt, end, serverClosed, outcome: 'close' as const, code: serverClosed ? 1012 : 1000 });
    expect(worked(sock(100, 100 + SERVED_AFTER_MS, true))).toBe(true);
    expect(worked(sock(100, 100 + SERVED_AFTER_MS - 0.001, true))).toBe(false);
    expect(worked(sock(100, 101, false))).toBe(true); // wsrace closed it: it served until then
    expect(worked({ ...sock(100, 101, true), msgs: { sent: 1, replied: 1, late: 0, lost: 0 }, reply: 100.5 })).toBe(true); // with a stream, an answer decides
    expect(worked({ ...sock(100, 5000, true), msgs: { sent: 1, replied: 0, late: 0, lost: 1 } })).toBe(false);
    expect(worked({ ...sock(100, 5000, true), ok: undefined })).toBe(false); // its steps never passed
    // A disconnect: an arrival's open socket the server closed, at any time; a reconnecting client's only once it served.
    const cut = sock(100, 300, true);
    expect([disconnected(cut), disconnected({ ...cut, client: POPULATION_BASE }), disconnected({ ...sock(100, 1100, true), client: POPULATION_BASE })]).toEqual([true, false, true]);
    expect([disconnected(sock(100, 300, false)), disconnected({ ...cut, open: null, ok: undefined })]).toEqual([false, false]); // wsrace closed it; never opened
    // session.servedAfter sets the span; a run folder's scenario.json carries it (an older one without it: the default).
    expect([worked(sock(100, 150, true), 50), worked(sock(100, 149.999, true), 50)]).toEqual([true, false]);
    expect([servedAfterOf({ session: { servedAfter: 50 } }), servedAfterOf({ session: {} }), servedAfterOf(null), servedAfterOf({ session: { servedAfter: '1s' } })]).toEqual([50, SERVED_AFTER_MS, SERVED_AFTER_MS, SERVED_AFTER_MS]);
  });

  it('with a stream, a client is back at its first answered message; a socket that opened but answered nothing is no comeback', () => {
    const tracker = new ClientTracker(true);
    const msgs = (replied: number) => ({ sent: 2, replied, late: 0, lost: 2 - replied });
    tracker.add(at(0, 0, { try: 0, open: 1, ok: 1, reply: 3, msgs: msgs(1), end: 1000, outcome: 'close', code: 1012, serverClosed: true }));
    // Accepted, then closed 1011 before answering (a herd's retry on a warming revision): the outage goes on.
    tracker.add(at(0, 1200, { open: 1205, ok: 1205, msgs: msgs(0), end: 1300, outcome: 'close', code: 1011, serverClosed: true }));
    tracker.add(at(0, 1500, { open: 1502, ok: 1502, reply: 1600, msgs: msgs(2), end: 5000, outcome: 'close', code: 1000, serverClosed: false }));
    const [c] = tracker.clients();
    expect([c.drops, c.back, c.droppedAt]).toEqual([1, 1, null]);
    expect(Math.abs(tracker.reconnects.outageMs.maxValue / 1e6 - 600)).toBeLessThan(0.6); // the drop at 1000 → the answer at 1600
    expect(Math.abs(tracker.reconnects.reconnectMs.maxValue / 1e6 - 502)).toBeLessThan(0.6); // → the socket that served, opened at 1502
    expect(tracker.reconnects.attempts).toEqual({ '2': 1 });
  });
});
