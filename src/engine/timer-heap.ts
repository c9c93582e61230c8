/**
 * A binary min-heap of (due, item), for timers whose deadlines do not arrive in the order they
 * are set (a stream's next send is its last one + `every`, and sockets open at any time), checked
 * by the worker's one tick like the FIFO deadline queues. Cancelling is the caller's: an item
 * that no longer wants its turn ignores it when it fires.
 */
export class TimerHeap<T> {
  private dues: number[] = [];
  private items: T[] = [];

  get size(): number {
    return this.dues.length;
  }

  push(item: T, due: number): void {
    let k = this.dues.length;
    this.dues.push(due);
    this.items.push(item);
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (this.dues[parent] <= due) break;
      this.dues[k] = this.dues[parent];
      this.items[k] = this.items[parent];
      k = parent;
    }
    this.dues[k] = due;
    this.items[k] = item;
  }

  /** Calls `fire(item, due)` for every entry due at or before `t`, earliest first (each removed before its call). */
  check(t: number, fire: (item: T, due: number) => void): void {
    while (this.dues.length > 0 && this.dues[0] <= t) {
      const due = this.dues[0];
      const item = this.items[0];
      this.removeTop();
      fire(item, due);
    }
  }

  private removeTop(): void {
    const lastDue = this.dues.pop()!;
    const lastItem = this.items.pop()!;
    const n = this.dues.length;
    if (n === 0) return;
    let k = 0;
    for (;;) {
      let child = 2 * k + 1;
      if (child >= n) break;
      if (child + 1 < n && this.dues[child + 1] < this.dues[child]) child++;
      if (this.dues[child] >= lastDue) break;
      this.dues[k] = this.dues[child];
      this.items[k] = this.items[child];
      k = child;
    }
    this.dues[k] = lastDue;
    this.items[k] = lastItem;
  }
}
