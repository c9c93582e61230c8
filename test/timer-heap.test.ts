import { describe, expect, it } from 'vitest';
import { TimerHeap } from '../src/engine/timer-heap.js';
import type { AddedAttempt } from '../src/engine/protocol.js';

/** A small deterministic generator (mulberry32), so a failure names its seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The rule the queue keeps: earliest first, equal times in the order added (a stable sort). */
const reference = (xs: AddedAttempt[]) => [...xs].sort((a, b) => a.sched - b.sched);

describe('TimerHeap: earliest due first, ties in the order pushed (the scheduler\'s added attempts, the streams\' timers)', () => {
  it('pops in the order of a stable sort, through interleaved pushes and pops, for many seeds', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = random(seed);
      const q = new TimerHeap<AddedAttempt>();
      let waiting: AddedAttempt[] = [];
      const popped: number[] = [];
      const expected: number[] = [];
      for (let step = 0; step < 300; step++) {
        if (waiting.length === 0 || rnd() < 0.6) {
          // Few distinct times, so ties are common.
          const a = { i: step, sched: Math.floor(rnd() * 20) };
          q.push(a, a.sched);
          waiting.push(a);
        } else {
          const next = reference(waiting)[0];
          expected.push(next.i);
          waiting = waiting.filter((x) => x !== next);
          expect(q.peek()).toBe(next);
          popped.push(q.pop().i);
        }
        expect(q.size).toBe(waiting.length);
      }
      expect(popped, `seed ${seed}`).toEqual(expected);
      expect(Array.from({ length: q.size }, () => q.pop().i)).toEqual(reference(waiting).map((a) => a.i));
      expect(q.peek()).toBeUndefined();
      expect(q.peekDue()).toBe(Infinity);
    }
  });

  it('filter keeps what it picks in the same order, and latestDue is the latest due still queued', () => {
    const q = new TimerHeap<AddedAttempt>();
    expect(q.latestDue()).toBe(0);
    for (const [i, sched] of [[0, 5], [1, 3], [2, 5], [3, 9], [4, 3], [5, 7]]) q.push({ i, sched, client: i % 2 === 0 ? i : undefined }, sched);
    expect(q.latestDue()).toBe(9);
    q.filter((a) => a.i !== 3 && a.i !== 4);
    expect(q.latestDue()).toBe(7);
    q.push({ i: 6, sched: 5 }, 5);
    expect(Array.from({ length: q.size }, () => q.pop().i)).toEqual([1, 0, 2, 6, 5]);
    q.filter(() => false);
    expect([q.size, q.latestDue(), q.peek()]).toEqual([0, 0, undefined]);
  });

  it('takes a herd of 100,000 retries at scattered times and gives them back in order', () => {
    const rnd = random(7);
    const q = new TimerHeap<AddedAttempt>();
    const xs = Array.from({ length: 100_000 }, (_, i) => ({ i, sched: Math.round(rnd() * 2000 * 1000) / 1000 }));
    for (const a of xs) q.push(a, a.sched);
    const out = Array.from({ length: q.size }, () => q.pop().i);
    expect(out).toEqual(reference(xs).map((a) => a.i));
  });

  it('check fires every entry due at or before t, earliest first, ties in push order, and leaves the rest', () => {
    const q = new TimerHeap<string>();
    for (const [item, due] of [['c', 3], ['a', 1], ['b1', 2], ['d', 9], ['b2', 2]] as const) q.push(item, due);
    const fired: string[] = [];
    q.check(2, (item, due) => fired.push(`${item}@${due}`));
    expect(fired).toEqual(['a@1', 'b1@2', 'b2@2']);
    expect([q.size, q.peek(), q.peekDue()]).toEqual([2, 'c', 3]);
  });

  it('check with a most fires at most that many of those due, the earliest, and leaves the others due', () => {
    const q = new TimerHeap<string>();
    for (const [item, due] of [['c', 3], ['a', 1], ['b1', 2], ['d', 9], ['b2', 2]] as const) q.push(item, due);
    const fired: string[] = [];
    q.check(3, (item, due) => fired.push(`${item}@${due}`), 2);
    expect(fired).toEqual(['a@1', 'b1@2']);
    q.check(3, (item, due) => fired.push(`${item}@${due}`), 0);
    expect(fired).toHaveLength(2);
    q.check(3, (item, due) => fired.push(`${item}@${due}`), 2);
    expect(fired).toEqual(['a@1', 'b1@2', 'b2@2', 'c@3']);
    expect([q.size, q.peekDue()]).toEqual([1, 9]);
  });
});
