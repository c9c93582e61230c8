import { describe, expect, it } from 'vitest';
import { addCounts, countInto, sumCounts, type Counts } from '../src/util/counts.js';

describe('count maps', () => {
  it('countInto starts an absent key at 0 and adds n (1 by default)', () => {
    const c: Counts = {};
    countInto(c, '1011');
    countInto(c, '1011');
    countInto(c, '1000', 5);
    expect(c).toEqual({ '1011': 2, '1000': 5 });
  });

  it('addCounts adds every key of the source, keeps the target\'s others, and leaves the source as it was', () => {
    const into: Counts = { '1000': 1, '1006': 2 };
    const from: Counts = { '1006': 3, '1012': 4 };
    addCounts(into, from);
    expect(into).toEqual({ '1000': 1, '1006': 5, '1012': 4 });
    expect(from).toEqual({ '1006': 3, '1012': 4 });
    addCounts(into, {});
    expect(into).toEqual({ '1000': 1, '1006': 5, '1012': 4 });
  });

  it('sumCounts returns a new map of both, and changes neither', () => {
    const a: Counts = { '1000': 1, '1006': 2 };
    const b: Counts = { '1006': 3, '1012': 4 };
    expect(sumCounts(a, b)).toEqual({ '1000': 1, '1006': 5, '1012': 4 });
    expect([a, b]).toEqual([{ '1000': 1, '1006': 2 }, { '1006': 3, '1012': 4 }]);
  });
});
