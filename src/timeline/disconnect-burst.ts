/**
 * The dominant disconnect burst: when most clients' sockets were cut at once (a revision
 * draining, a proxy reload), so findings can say "cut at +31.2 s" rather than only "in phase X".
 * Disconnects are counted in BURST_BUCKET_MS buckets of their close time, so memory grows with the
 * run's length, not with its sockets; a burst is a run of buckets with no gap over BURST_GAP_MS.
 */

import { addCounts, countInto } from '../util/counts.js';

export const BURST_BUCKET_MS = 100;
/** A quiet stretch this long ends a burst: a drain spread over seconds is still one burst. */
export const BURST_GAP_MS = 500;

/** The largest burst: its first and last close (ms since T0), its count, by close code. */
export interface DisconnectBurst {
  fromMs: number;
  toMs: number;
  count: number;
  closeCodes: Record<string, number>;
}

interface Bucket {
  count: number;
  first: number;
  last: number;
  codes: Record<string, number>;
}

export class BurstFinder {
  private readonly buckets = new Map<number, Bucket>();

  add(endMs: number, code: string): void {
    const k = Math.floor(endMs / BURST_BUCKET_MS);
    let b = this.buckets.get(k);
    if (!b) this.buckets.set(k, (b = { count: 0, first: endMs, last: endMs, codes: {} }));
    b.count++;
    b.first = Math.min(b.first, endMs);
    b.last = Math.max(b.last, endMs);
    countInto(b.codes, code);
  }

  /** The burst holding the most disconnects (the earliest of equals); null without any. */
  result(): DisconnectBurst | null {
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    let best: DisconnectBurst | null = null;
    let cur: DisconnectBurst | null = null;
    let lastKey = -Infinity;
    for (const k of keys) {
      const b = this.buckets.get(k)!;
      if (cur === null || (k - lastKey - 1) * BURST_BUCKET_MS >= BURST_GAP_MS) {
        if (cur && (!best || cur.count > best.count)) best = cur;
        cur = { fromMs: b.first, toMs: b.last, count: 0, closeCodes: {} };
      }
      cur.toMs = b.last;
      cur.count += b.count;
      addCounts(cur.closeCodes, b.codes);
      lastKey = k;
    }
    if (cur && (!best || cur.count > best.count)) best = cur;
    return best;
  }
}
