import { describe, expect, it } from 'vitest';
import { StreamLedger } from '../src/engine/stream-ledger.js';

const copy = <T extends object>(r: T): T => ({ ...r });

describe('StreamLedger', () => {
  it('numbers sends from 1 and answers by sequence number: replied within the window, late after it', () => {
    const l = new StreamLedger(100);
    expect(l.send(1000)).toBe(1);
    expect(l.send(1250)).toBe(2);
    expect(l.outstanding).toBe(2);
    expect(copy(l.replyTo(1, 1100))).toEqual({ kind: 'replied', seq: 1, rttMs: 100, sentAt: 1000, outOfOrder: false });
    expect(copy(l.replyTo(2, 1350.5))).toEqual({ kind: 'late', seq: 2, rttMs: 100.5, sentAt: 1250, outOfOrder: false });
    expect(l.outstanding).toBe(0);
  });

  it('tells duplicates, out-of-order and unmatched replies apart', () => {
    const l = new StreamLedger(1000);
    for (let k = 0; k < 4; k++) l.send(k * 10);
    expect(l.replyTo(3, 35).kind).toBe('replied');
    expect(copy(l.replyTo(1, 36))).toMatchObject({ kind: 'replied', seq: 1, outOfOrder: true });
    expect(l.replyTo(1, 37).kind).toBe('duplicate'); // below the base now
    expect(l.replyTo(3, 38).kind).toBe('duplicate'); // answered, above the base
    expect(l.replyTo(5, 39).kind).toBe('unmatched'); // never sent
    expect(l.replyTo(0, 39).kind).toBe('unmatched');
    expect(l.replyTo(2.5, 39).kind).toBe('unmatched');
    expect(copy(l.replyTo(2, 40))).toMatchObject({ kind: 'replied', seq: 2, outOfOrder: true });
    expect(copy(l.replyTo(4, 41))).toMatchObject({ kind: 'replied', seq: 4, outOfOrder: false });
    expect(l.outstanding).toBe(0);
  });

  it('in order: each reply answers the oldest outstanding message; one too many is unmatched', () => {
    const l = new StreamLedger(50);
    l.send(0);
    l.send(10);
    expect(copy(l.replyInOrder(20))).toEqual({ kind: 'replied', seq: 1, rttMs: 20, sentAt: 0, outOfOrder: false });
    expect(copy(l.replyInOrder(70))).toEqual({ kind: 'late', seq: 2, rttMs: 60, sentAt: 10, outOfOrder: false });
    expect(l.replyInOrder(80).kind).toBe('unmatched');
  });

  it('in order after replies by number skipped a message: the skipped one is the oldest', () => {
    const l = new StreamLedger(50);
    l.send(0);
    l.send(1);
    l.send(2);
    l.replyTo(2, 5);
    expect(l.replyInOrder(6).seq).toBe(1);
    expect(l.replyInOrder(7).seq).toBe(3);
  });

  it('settles what is outstanding as lost, oldest first, once', () => {
    const l = new StreamLedger(50);
    for (let k = 1; k <= 5; k++) l.send(k);
    l.replyTo(2, 6);
    l.replyTo(4, 7);
    const lost: [number, number][] = [];
    expect(l.settleLost((seq, at) => lost.push([seq, at]))).toBe(3);
    expect(lost).toEqual([
      [1, 1],
      [3, 3],
      [5, 5],
    ]);
    expect(l.outstanding).toBe(0);
    expect(l.settleLost(() => expect.unreachable())).toBe(0);
    expect(l.replyTo(1, 9).kind).toBe('duplicate'); // settled: a reply now is for a message already counted
  });

  it('grows while replies fall behind, keeping every send time, and stays small when they keep up', () => {
    const l = new StreamLedger(1e9, 2);
    for (let k = 1; k <= 1000; k++) l.send(k * 2);
    expect(l.outstanding).toBe(1000);
    expect(l.newestOutstandingAt()).toBe(2000);
    for (let k = 1000; k >= 1; k--) expect(l.replyTo(k, 5000).sentAt).toBe(k * 2);
    const steady = new StreamLedger(100, 4);
    for (let k = 1; k <= 10_000; k++) {
      steady.send(k);
      expect(steady.replyInOrder(k + 1).seq).toBe(k);
    }
    expect((steady as unknown as { mask: number }).mask).toBe(3);
    expect(steady.newestOutstandingAt()).toBe(-Infinity);
  });
});

describe('JSON paths', async () => {
  const { compileJsonPath, readJsonPath } = await import('../src/util/json-path.js');
  it('compile to segments and read parsed JSON, undefined where a step is missing', () => {
    expect(compileJsonPath('seq')).toEqual(['seq']);
    expect(compileJsonPath('data.items[0][2].seq')).toEqual(['data', 'items', 0, 2, 'seq']);
    const doc = { seq: 7, data: { items: [[0, 1, { seq: 9 }]] } };
    expect(readJsonPath(doc, compileJsonPath('seq'))).toBe(7);
    expect(readJsonPath(doc, compileJsonPath('data.items[0][2].seq'))).toBe(9);
    expect(readJsonPath(doc, compileJsonPath('data.missing.seq'))).toBeUndefined();
    expect(readJsonPath(5, compileJsonPath('seq'))).toBeUndefined();
    expect(readJsonPath(null, compileJsonPath('seq'))).toBeUndefined();
  });
  it('refuse malformed paths, saying what was expected', () => {
    for (const bad of ['', 'a..b', '.a', 'a[x]', 'a[0', '0a', 'a b']) expect(() => compileJsonPath(bad)).toThrow(`expected a JSON path like seq or data.items[0].seq, found "${bad}"`);
  });
});
