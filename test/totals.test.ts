import { describe, expect, it } from 'vitest';
import { addAttempt, emptyTotals, failureCount, mergeTotals, REASONS_PER_CODE, type Totals } from '../src/record/totals.js';
import { ERROR_KINDS, type AttemptRecord, type OutcomeKind } from '../src/record/attempt.js';

let next = 0;
/** An attempt record with only what totals read: outcome, open, code/reason/status/err. */
function rec(outcome: OutcomeKind, extra: Partial<AttemptRecord> = {}): AttemptRecord {
  const i = next++;
  return { i, w: 0, sched: i, start: i, tcp: null, up: null, open: null, first: null, end: i + 1, outcome, ...extra };
}
const opened = (outcome: OutcomeKind, extra: Partial<AttemptRecord> = {}) => rec(outcome, { open: 5, ...extra });

function totalsOf(records: AttemptRecord[]): Totals {
  const t = emptyTotals();
  for (const r of records) addAttempt(t, r);
  return t;
}

/** attempted = dropped + Σ closeCodes + Σ httpStatus + Σ errors: every attempt in one bucket. */
function buckets(t: Totals): number {
  const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
  return t.dropped + sum(t.closeCodes) + sum(t.httpStatus) + sum(t.errors);
}

const zeroErrors = Object.fromEntries(ERROR_KINDS.map((k) => [k, 0]));

describe('emptyTotals', () => {
  it('lists every error kind at 0 and nothing else', () => {
    expect(emptyTotals()).toEqual({ attempted: 0, opened: 0, dropped: 0, closeCodes: {}, closeReasons: {}, httpStatus: {}, errors: zeroErrors, errorCodes: {} });
    expect(Object.keys(emptyTotals().errors)).toEqual(['refused', 'reset', 'handshake_timeout', 'expect_timeout', 'interrupted', 'lost', 'error']);
  });
});

describe('addAttempt: one bucket per attempt, exactly', () => {
  it('counts every outcome kind in its own bucket', () => {
    const t = totalsOf([
      opened('close', { code: 1000 }),
      opened('close', { code: 1000 }),
      opened('close', { code: 1011, reason: 'Service not ready: bridge' }),
      opened('close'), // no close frame: 1006
      rec('http', { status: 503 }),
      rec('http', { status: 503 }),
      rec('http', { status: 429 }),
      rec('http'), // no status: 0
      rec('refused'),
      rec('reset'),
      rec('handshake_timeout'),
      opened('expect_timeout'),
      rec('dropped'),
      rec('dropped'),
      rec('interrupted'),
      opened('interrupted'),
      rec('lost'),
      rec('error', { err: 'EMFILE' }),
      rec('error', { err: 'EMFILE' }),
      rec('error', { err: 'invalid_accept' }),
      opened('error', { err: 'max_payload' }),
      rec('error'), // no code: unknown
    ]);
    expect(t).toEqual({
      attempted: 22,
      opened: 7,
      dropped: 2,
      closeCodes: { '1000': 2, '1011': 1, '1006': 1 },
      closeReasons: { '1011': ['Service not ready: bridge'] },
      httpStatus: { '503': 2, '429': 1, '0': 1 },
      errors: { refused: 1, reset: 1, handshake_timeout: 1, expect_timeout: 1, interrupted: 2, lost: 1, error: 5 },
      errorCodes: { EMFILE: 2, invalid_accept: 1, max_payload: 1, unknown: 1 },
    });
    expect(buckets(t)).toBe(t.attempted);
    // Failures: all but the client's 1000 closes and the interrupted ones.
    expect(failureCount(t)).toBe(22 - 2 - 2);
  });

  it('opened counts any attempt that reached open, whatever it ended as', () => {
    expect(totalsOf([opened('close', { code: 1000 }), rec('refused'), opened('expect_timeout'), opened('interrupted'), rec('interrupted')]).opened).toBe(3);
  });

  it('keeps the first 5 distinct reasons per close code, in arrival order; an empty reason is not kept', () => {
    const reasons = ['a', 'b', 'a', 'c', 'd', 'b', 'e', 'f', 'g'];
    const t = totalsOf([...reasons.map((reason) => opened('close', { code: 1011, reason })), opened('close', { code: 1011, reason: '' }), opened('close', { code: 4000, reason: 'x' })]);
    expect(REASONS_PER_CODE).toBe(5);
    expect(t.closeReasons).toEqual({ '1011': ['a', 'b', 'c', 'd', 'e'], '4000': ['x'] });
    expect(t.closeCodes).toEqual({ '1011': 10, '4000': 1 });
  });

  it('a reason on a 1006 (no close frame) is kept under 1006', () => {
    expect(totalsOf([opened('close', { reason: 'cut' })]).closeReasons).toEqual({ '1006': ['cut'] });
  });
});

describe('mergeTotals: workers, phases and shards add up', () => {
  const a = () =>
    totalsOf([
      opened('close', { code: 1000 }),
      opened('close', { code: 1011, reason: 'r1' }),
      opened('close', { code: 1011, reason: 'r2' }),
      opened('close', { code: 1011, reason: 'r3' }),
      rec('http', { status: 503 }),
      rec('refused'),
      rec('error', { err: 'EMFILE' }),
      rec('dropped'),
    ]);
  const b = () =>
    totalsOf([
      opened('close', { code: 1000 }),
      opened('close', { code: 1000 }),
      opened('close', { code: 1011, reason: 'r3' }),
      opened('close', { code: 1011, reason: 'r4' }),
      opened('close', { code: 1011, reason: 'r5' }),
      opened('close', { code: 1011, reason: 'r6' }),
      opened('close', { code: 4001, reason: 'bye' }),
      rec('http', { status: 503 }),
      rec('http', { status: 403 }),
      rec('lost'),
      rec('error', { err: 'EMFILE' }),
      rec('error', { err: 'invalid_http' }),
      opened('expect_timeout'),
    ]);

  it('sums every count exactly and merges reasons in order, first 5 distinct per code', () => {
    const merged = mergeTotals(a(), b());
    expect(merged).toEqual({
      attempted: 21,
      opened: 12,
      dropped: 1,
      closeCodes: { '1000': 3, '1011': 7, '4001': 1 },
      closeReasons: { '1011': ['r1', 'r2', 'r3', 'r4', 'r5'], '4001': ['bye'] },
      httpStatus: { '503': 2, '403': 1 },
      errors: { refused: 1, reset: 0, handshake_timeout: 0, expect_timeout: 1, interrupted: 0, lost: 1, error: 3 },
      errorCodes: { EMFILE: 2, invalid_http: 1 },
    });
    expect(buckets(merged)).toBe(merged.attempted);
  });

  it('equals adding the same attempts to one block (counts; reasons in merge order)', () => {
    const records = [opened('close', { code: 1000 }), rec('http', { status: 503 }), rec('error', { err: 'EMFILE' }), opened('close', { code: 1011, reason: 'x' }), rec('reset')];
    const whole = totalsOf(records);
    const parts = mergeTotals(mergeTotals(emptyTotals(), totalsOf(records.slice(0, 2))), totalsOf(records.slice(2)));
    expect(parts).toEqual(whole);
  });

  it('returns the block it merged into', () => {
    const into = a();
    expect(mergeTotals(into, b())).toBe(into);
  });

  it('merging an empty block changes nothing; merging into an empty block copies', () => {
    expect(mergeTotals(a(), emptyTotals())).toEqual(a());
    expect(mergeTotals(emptyTotals(), a())).toEqual(a());
    expect(mergeTotals(emptyTotals(), emptyTotals())).toEqual(emptyTotals());
  });

  it('does not share reason lists with the block it read', () => {
    const from = a();
    const into = mergeTotals(emptyTotals(), from);
    into.closeReasons['1011'].push('later');
    expect(from.closeReasons['1011']).toEqual(['r1', 'r2', 'r3']);
  });

  it('reads a block written before an error kind existed as 0 of it', () => {
    const old = a();
    delete (old.errors as Partial<Totals['errors']>).lost;
    expect(mergeTotals(emptyTotals(), old).errors.lost).toBe(0);
  });
});
