/**
 * A binary min-heap of (due, item), earliest first and, among equal dues, in the order pushed:
 * for timers whose deadlines do not arrive in the order they are set (a stream's next send is its
 * last one + `every`, and sockets open at any time), checked by the worker's one tick like the
 * FIFO deadline queues, and for the scheduler's added attempts (a reconnect herd queues tens of
 * thousands of retries at scattered times within a second or two). Cancelling is the caller's:
 * an item that no longer wants its turn ignores it when it fires, or is filtered out.
 */
export class TimerHeap<T> {
  private dues: number[] = [];
  private items: T[] = [];
  /** Each entry's push number, beside it: the tie-break that keeps equal dues in push order. */
  private orders: number[] = [];
  private pushes = 0;

  get size(): number {
    return this.dues.length;
  }

  push(item: T, due: number): void {
    this.dues.push(due);
    this.items.push(item);
    this.orders.push(this.pushes);
    this.siftUp(this.dues.length - 1, item, due, this.pushes++);
  }

  /** The earliest entry's item, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** The earliest entry's due; Infinity when empty. */
  peekDue(): number {
    return this.dues.length > 0 ? this.dues[0] : Infinity;
  }

  /** Takes the earliest entry out and returns its item (the caller has peeked: one is waiting). */
  pop(): T {
    const item = this.items[0];
    this.removeTop();
    return item;
  }

  /** Calls `fire(item, due)` for every entry due at or before `t` (at most `max`), earliest first (each removed before its call). */
  check(t: number, fire: (item: T, due: number) => void, max = Infinity): void {
    for (let n = 0; n < max && this.dues.length > 0 && this.dues[0] <= t; n++) {
      const due = this.dues[0];
      const item = this.items[0];
      this.removeTop();
      fire(item, due);
    }
  }

  /** The latest due of the entries waiting (0 when none). */
  latestDue(): number {
    let latest = 0;
    for (const due of this.dues) if (due > latest) latest = due;
    return latest;
  }

  /** Keeps only the entries whose item `keep` picks, in the same order. */
  filter(keep: (item: T) => boolean): void {
    const kept: number[] = [];
    for (let k = 0; k < this.items.length; k++) if (keep(this.items[k])) kept.push(k);
    // Sorted by (due, push number), an array is already a heap.
    kept.sort((x, y) => this.dues[x] - this.dues[y] || this.orders[x] - this.orders[y]);
    this.items = kept.map((k) => this.items[k]);
    this.dues = kept.map((k) => this.dues[k]);
    this.orders = kept.map((k) => this.orders[k]);
  }

  /** Whether (due, order) comes before the entry at k. */
  private before(due: number, order: number, k: number): boolean {
    return due < this.dues[k] || (due === this.dues[k] && order < this.orders[k]);
  }

  private siftUp(k: number, item: T, due: number, order: number): void {
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (!this.before(due, order, parent)) break;
      this.move(parent, k);
      k = parent;
    }
    this.place(k, item, due, order);
  }

  private removeTop(): void {
    const lastDue = this.dues.pop()!;
    const lastItem = this.items.pop()!;
    const lastOrder = this.orders.pop()!;
    const n = this.dues.length;
    if (n === 0) return;
    let k = 0;
    for (;;) {
      let child = 2 * k + 1;
      if (child >= n) break;
      if (child + 1 < n && this.before(this.dues[child + 1], this.orders[child + 1], child)) child++;
      if (this.before(lastDue, lastOrder, child)) break;
      this.move(child, k);
      k = child;
    }
    this.place(k, lastItem, lastDue, lastOrder);
  }

  private move(from: number, to: number): void {
    this.dues[to] = this.dues[from];
    this.items[to] = this.items[from];
    this.orders[to] = this.orders[from];
  }

  private place(k: number, item: T, due: number, order: number): void {
    this.dues[k] = due;
    this.items[k] = item;
    this.orders[k] = order;
  }
}
