import type { Attempt } from './connection.js';

/**
 * A FIFO of attempts whose deadlines arrive in the order they were pushed. Every deadline of one
 * kind is "event time + a constant" (start + handshakeTimeout, open + hold, open + within) and
 * events are pushed as they happen, so the queue is sorted by construction: checking it costs
 * O(due) and one worker timer replaces a timer per attempt.
 *
 * An attempt that finishes first cancels its entry, which only clears the slot: the attempt is
 * garbage at once instead of living (and being promoted by the GC) until its deadline passes.
 */
export class DeadlineQueue {
  // Empty, but already of the element kinds they will hold (objects, doubles): from `[]` their
  // first push changed the array's map, and code optimized on the rehearsal's queues (rehearsal.ts)
  // deoptimized at the run's first push ("wrong map").
  private items: (Attempt | null)[] = emptyObjects();
  private dues: number[] = emptyDoubles();
  private head = 0;
  /** Ticket of items[0]: tickets stay valid across compaction. */
  private base = 0;

  constructor(private readonly fire: (a: Attempt) => void) {}

  /** Watches `a` until `due` (epoch ms); returns a ticket for cancel(). */
  push(a: Attempt, due: number): number {
    this.items.push(a);
    this.dues.push(due);
    return this.base + this.items.length - 1;
  }

  cancel(ticket: number): void {
    const k = ticket - this.base;
    if (k >= this.head && k < this.items.length) this.items[k] = null;
  }

  /**
   * Whether an attempt still waits whose deadline is after `after`: with constant timeouts, one
   * that started after a given time. Scans back from the newest entry, over cancelled ones only.
   */
  waitingAfter(after: number): boolean {
    for (let k = this.items.length - 1; k >= this.head && this.dues[k] > after; k--) {
      if (this.items[k] !== null) return true;
    }
    return false;
  }

  /** Fires every deadline at or before `now`. */
  check(now: number): void {
    const items = this.items;
    while (this.head < items.length) {
      const a = items[this.head];
      if (a !== null && this.dues[this.head] > now) break;
      items[this.head++] = null;
      if (a !== null) this.fire(a);
    }
    // Compact once the consumed prefix dominates, so memory stays proportional to what waits.
    if (this.head > 1024 && this.head * 2 > items.length) {
      this.items = items.slice(this.head);
      this.dues = this.dues.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}

/*
 * Two functions, not one taking a sample: V8 tracks an array literal's element kind per literal,
 * so one shared `[sample]` would have made the doubles' array an array of objects (boxed numbers).
 */
/** An empty array that holds objects (V8's PACKED_ELEMENTS). */
function emptyObjects<T>(): (T | null)[] {
  const a: (T | null)[] = [null];
  a.pop();
  return a;
}

/** An empty array that holds unboxed doubles (PACKED_DOUBLE_ELEMENTS). */
function emptyDoubles(): number[] {
  const a = [0.5];
  a.pop();
  return a;
}
