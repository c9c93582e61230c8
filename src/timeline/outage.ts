import { round3 } from '../util/round.js';
/** How long WebSockets did not work, from the attempts' point of view (ms since T0). */
export interface Outage {
  /** Scheduled start of the first attempt that worked (opened and closed by the client). */
  firstSuccessMs: number | null;
  /** Longest stretch of scheduled starts with attempts but no success in it. */
  longestNoSuccessMs: number;
  noSuccessFromMs: number | null;
  noSuccessToMs: number | null;
  /** Longest stretch of consecutive attempts all answered HTTP 503. */
  longest503Ms: number;
}

/** What an attempt counts as for the outage: it worked, it was answered 503, or it failed otherwise. */
export const OutageKind = { Failure: 0, Success: 1, Http503: 2 } as const;
export type OutageKind = (typeof OutageKind)[keyof typeof OutageKind];

/** Attempts per storage block: blocks are added, never grown, so memory is 9 bytes an attempt with no copying. */
const BLOCK = 1 << 16;

/**
 * Every attempt's scheduled start and kind, in compact blocks (a run can have many millions), and
 * the outage they show, read in order of scheduled start (ties in the order they came). Attempts
 * that came in that order already (a merged run's events) are read as they are, with no sort.
 */
export class OutageLog {
  private readonly scheds: Float64Array[] = [];
  private readonly kinds: Uint8Array[] = [];
  private count = 0;
  private last = -Infinity;
  private inOrder = true;

  add(sched: number, kind: OutageKind): void {
    const block = this.count >>> 16;
    const at = this.count & (BLOCK - 1);
    if (at === 0) {
      this.scheds.push(new Float64Array(BLOCK));
      this.kinds.push(new Uint8Array(BLOCK));
    }
    this.scheds[block][at] = sched;
    this.kinds[block][at] = kind;
    this.count++;
    if (sched < this.last) this.inOrder = false;
    this.last = sched;
  }

  private sched(i: number): number {
    return this.scheds[i >>> 16][i & (BLOCK - 1)];
  }

  /** Indices in order of scheduled start, ties by index (as a stable sort), or null when they are in order already. */
  private order(): Uint32Array | null {
    if (this.inOrder) return null;
    const order = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) order[i] = i;
    return order.sort((a, b) => this.sched(a) - this.sched(b) || a - b);
  }

  result(): Outage {
    const order = this.order();
    let firstSuccessMs: number | null = null;
    let longest = 0;
    let from: number | null = null;
    let to: number | null = null;
    let runStart: number | null = null;
    let longest503 = 0;
    let run503: number | null = null;
    let lastSched = 0;
    for (let n = 0; n < this.count; n++) {
      const i = order ? order[n] : n;
      const t = this.sched(i);
      const kind = this.kinds[i >>> 16][i & (BLOCK - 1)];
      lastSched = t;
      if (kind === OutageKind.Success) {
        firstSuccessMs ??= t;
        if (runStart !== null && t - runStart > longest) [longest, from, to] = [t - runStart, runStart, t];
        runStart = null;
      } else runStart ??= t;
      if (kind === OutageKind.Http503) {
        run503 ??= t;
        longest503 = Math.max(longest503, t - run503);
      } else run503 = null;
    }
    if (runStart !== null && lastSched - runStart >= longest && this.count > 0) [longest, from, to] = [lastSched - runStart, runStart, lastSched];
    return { firstSuccessMs, longestNoSuccessMs: round3(longest), noSuccessFromMs: from, noSuccessToMs: to, longest503Ms: round3(longest503) };
  }
}
