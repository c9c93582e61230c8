import type { Attempt } from './connection.js';

/**
 * A FIFO of attempts whose deadlines arrive in the order they were pushed. Every deadline of one
 * kind is "event time + a constant" (start + handshakeTimeout, open + hold, open + within) and
 * events are pushed as they happen, so the queue is sorted by construction: checking it costs
 * O(due) and one worker timer replaces a timer per attempt. Finished attempts are skipped lazily.
 */
export class DeadlineQueue {
  private items: Attempt[] = [];
  private head = 0;

  constructor(
    private readonly due: (a: Attempt) => number,
    private readonly fire: (a: Attempt) => void,
  ) {}

  push(a: Attempt): void {
    this.items.push(a);
  }

  /** Fires every deadline at or before `now`. */
  check(now: number): void {
    const items = this.items;
    while (this.head < items.length) {
      const a = items[this.head];
      if (!a.done && this.due(a) > now) break;
      this.head++;
      if (!a.done) this.fire(a);
    }
    // Compact once the consumed prefix dominates, so memory stays proportional to what waits.
    if (this.head > 1024 && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
  }

  get size(): number {
    return this.items.length - this.head;
  }
}
