import { describe, expect, it } from 'vitest';
import { evaluateThresholds } from '../src/report/thresholds.js';
import { parseThreshold } from '../src/scenario/thresholds.js';

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
    expect(() => parseThreshold('total.errors.refused == 0')).toThrow(/^"total\.errors\.refused" is not a summary\.json value/); // the block is misspelt, not the kind
    for (const ok of ['totals.errors.handshake_timeout == 0', 'phases.init_db.closeCodes.1011 == 0', 'beforeReady.httpStatus.503 < 5', 'steps.s.closed.4000 == 0']) expect(() => parseThreshold(ok)).not.toThrow();
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
