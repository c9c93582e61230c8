import { MESSAGE_FIELDS } from '../record/messages.js';

/** Entries per batch: at 20,000 messages a second, a post every ~50 ms of a 57 KB buffer. */
const BATCH_ENTRIES = 1024;

/**
 * A worker's message entries on their way to the main thread: numbers in one Float64Array
 * (record/messages.ts), its buffer transferred when full, so a message costs no object.
 */
export class MessageBatch {
  private data = new Float64Array(BATCH_ENTRIES * MESSAGE_FIELDS);
  private n = 0;

  /** Adds one entry; returns the full batch to post (its buffer is the caller's), else null. */
  push(i: number, seq: number, at: number, rtt: number, kind: number, code: number, flags: number): Float64Array | null {
    const o = this.n * MESSAGE_FIELDS;
    const d = this.data;
    d[o] = i;
    d[o + 1] = seq;
    d[o + 2] = at;
    d[o + 3] = rtt;
    d[o + 4] = kind;
    d[o + 5] = code;
    d[o + 6] = flags;
    if (++this.n < BATCH_ENTRIES) return null;
    return this.take();
  }

  /** The entries so far (null when none), and a fresh batch. */
  take(): Float64Array | null {
    if (this.n === 0) return null;
    const out = this.n === BATCH_ENTRIES ? this.data : this.data.slice(0, this.n * MESSAGE_FIELDS);
    if (out === this.data) this.data = new Float64Array(BATCH_ENTRIES * MESSAGE_FIELDS);
    this.n = 0;
    return out;
  }
}
