import type { AddedAttempt } from './protocol.js';

/**
 * The attempts added at run time (the on-ready burst, a population's clients, reconnects), the
 * earliest first; among equal times, in the order they were added. A binary heap: a reconnect herd
 * queues tens of thousands of retries at scattered times within a second or two, and the sorted
 * array this replaces shifted half its length for each one, on the thread that had to start them.
 */
export class AddedQueue {
  private items: AddedAttempt[] = [];
  /** Each item's arrival number, beside it: the tie-break that keeps equal times in order. */
  private orders: number[] = [];
  private arrivals = 0;
  /** The latest time queued since the queue was last filtered (lastStart's: the schedule's end). */
  private latestSched = 0;

  get size(): number {
    return this.items.length;
  }

  /** The latest scheduled time queued (0 when none). */
  get latest(): number {
    return this.latestSched;
  }

  /** The earliest attempt waiting, left in place; null when none. */
  peek(): AddedAttempt | null {
    return this.items.length > 0 ? this.items[0] : null;
  }

  /** Takes the earliest attempt out (the caller has peeked: one is waiting). */
  pop(): AddedAttempt {
    const top = this.items[0];
    const lastItem = this.items.pop()!;
    const lastOrder = this.orders.pop()!;
    if (this.items.length > 0) this.siftDown(lastItem, lastOrder);
    return top;
  }

  push(a: AddedAttempt): void {
    if (a.sched > this.latestSched) this.latestSched = a.sched;
    this.items.push(a);
    this.orders.push(this.arrivals);
    this.siftUp(this.items.length - 1, a, this.arrivals++);
  }

  /** Keeps only the attempts `keep` picks, in the same order. */
  filter(keep: (a: AddedAttempt) => boolean): void {
    const kept: [AddedAttempt, number][] = [];
    for (let k = 0; k < this.items.length; k++) if (keep(this.items[k])) kept.push([this.items[k], this.orders[k]]);
    // Sorted by (time, arrival), an array is already a heap.
    kept.sort((x, y) => x[0].sched - y[0].sched || x[1] - y[1]);
    this.items = kept.map((x) => x[0]);
    this.orders = kept.map((x) => x[1]);
    this.latestSched = this.items.reduce((m, a) => Math.max(m, a.sched), 0);
  }

  private before(a: AddedAttempt, order: number, k: number): boolean {
    const b = this.items[k];
    return a.sched < b.sched || (a.sched === b.sched && order < this.orders[k]);
  }

  private siftUp(k: number, a: AddedAttempt, order: number): void {
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (!this.before(a, order, parent)) break;
      this.items[k] = this.items[parent];
      this.orders[k] = this.orders[parent];
      k = parent;
    }
    this.items[k] = a;
    this.orders[k] = order;
  }

  private siftDown(a: AddedAttempt, order: number): void {
    const n = this.items.length;
    let k = 0;
    for (;;) {
      let child = 2 * k + 1;
      if (child >= n) break;
      if (child + 1 < n && this.before(this.items[child + 1], this.orders[child + 1], child)) child++;
      if (this.before(a, order, child)) break;
      this.items[k] = this.items[child];
      this.orders[k] = this.orders[child];
      k = child;
    }
    this.items[k] = a;
    this.orders[k] = order;
  }
}
