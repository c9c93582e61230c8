/**
 * The messages one socket's stream has sent and not yet settled, kept compactly: a ring of send
 * times indexed by sequence number, grown by doubling only while replies fall behind, instead of
 * an object per message. Pure bookkeeping, no I/O: the attempt feeds it sends, replies and its
 * end, and it answers what each one was.
 */

/**
 * What a reply turned out to be: `replied` within `within` of its send, `late` after it (but
 * before the socket ended), `duplicate` for a message already answered (by sequence number
 * only), `unmatched` for none sent and outstanding.
 */
export type ReplyKind = 'replied' | 'late' | 'duplicate' | 'unmatched';

/** One reply's verdict. The ledger reuses one object: read it before the next call. */
export interface ReplyResult {
  kind: ReplyKind;
  /** The message answered (0 for duplicates and unmatched replies). */
  seq: number;
  /** Send → reply, ms (for Replied and Late). */
  rttMs: number;
  /** When that message was sent (epoch ms; for Replied and Late). */
  sentAt: number;
  /** A later message had been answered before this one (by sequence number only). */
  outOfOrder: boolean;
}

/**
 * An answered slot holds NaN instead of its send time, so one array says both when each message
 * was sent and whether it is still outstanding. A plain double array, not typed arrays: every
 * open socket has a ledger, and a small typed array's fixed overhead is several times its data
 * (docs/performance.md, "Message streams").
 */
const ANSWERED = NaN;
const isAnswered = (t: number): boolean => Number.isNaN(t);

/** `size` doubles, packed (reads stay on V8's fast path) and without spare capacity (push would add some). */
function ring(size: number): number[] {
  return Array.from({ length: size }, () => ANSWERED);
}

export class StreamLedger {
  /** The next sequence number to send; numbers start at 1. */
  nextSeq = 1;
  /** The lowest sequence number still tracked: every one below it is answered. */
  private base = 1;
  /** Send times by `seq & mask`; NaN once answered (or lost). */
  private sentAt: number[];
  private mask: number;
  private highestAnswered = 0;
  private outstandingCount = 0;

  /** `capacity`: the messages it tracks before it grows. Two by default: a stream's replies mostly come before its next send. */
  constructor(
    private readonly withinMs: number,
    capacity = 2,
  ) {
    // Doubled as a small integer: `2 ** x` is a double, and the mask would be a boxed number in every ledger.
    let size = 2;
    while (size < capacity) size *= 2;
    this.sentAt = ring(size);
    this.mask = size - 1;
  }

  /** Messages sent and not answered yet. */
  get outstanding(): number {
    return this.outstandingCount;
  }

  /** Records a send at `at` (epoch ms) and returns its sequence number. */
  send(at: number): number {
    if (this.nextSeq - this.base > this.mask) this.grow();
    const seq = this.nextSeq++;
    this.sentAt[seq & this.mask] = at;
    this.outstandingCount++;
    return seq;
  }

  /** A reply carrying sequence number `seq`, received at `at`. */
  replyTo(seq: number, at: number): ReplyResult {
    if (!Number.isInteger(seq) || seq < 1 || seq >= this.nextSeq) return verdict('unmatched', 0, 0, 0, false);
    if (seq < this.base || isAnswered(this.sentAt[seq & this.mask])) return verdict('duplicate', 0, 0, 0, false);
    return this.answer(seq, at);
  }

  /** A reply without a sequence number: it answers the oldest outstanding message. */
  replyInOrder(at: number): ReplyResult {
    if (this.outstandingCount === 0) return verdict('unmatched', 0, 0, 0, false);
    let seq = this.base;
    while (isAnswered(this.sentAt[seq & this.mask])) seq++;
    return this.answer(seq, at);
  }

  /**
   * The socket ended: every outstanding message is lost. Calls `lost` with each one's sequence
   * number and send time, oldest first, and forgets them.
   */
  settleLost(lost: (seq: number, sentAt: number) => void): number {
    let n = 0;
    for (let seq = this.base; seq < this.nextSeq; seq++) {
      const sentAt = this.sentAt[seq & this.mask];
      if (isAnswered(sentAt)) continue;
      this.sentAt[seq & this.mask] = ANSWERED;
      n++;
      lost(seq, sentAt);
    }
    this.outstandingCount = 0;
    this.base = this.nextSeq;
    return n;
  }

  /** The send time of the newest outstanding message (-Infinity when none). */
  newestOutstandingAt(): number {
    for (let seq = this.nextSeq - 1; seq >= this.base; seq--) if (!isAnswered(this.sentAt[seq & this.mask])) return this.sentAt[seq & this.mask];
    return -Infinity;
  }

  private answer(seq: number, at: number): ReplyResult {
    const slot = seq & this.mask;
    const sentAt = this.sentAt[slot];
    this.sentAt[slot] = ANSWERED;
    this.outstandingCount--;
    const outOfOrder = seq < this.highestAnswered;
    if (seq > this.highestAnswered) this.highestAnswered = seq;
    while (this.base < this.nextSeq && isAnswered(this.sentAt[this.base & this.mask])) this.base++;
    const rttMs = at - sentAt;
    return verdict(rttMs <= this.withinMs ? 'replied' : 'late', seq, rttMs, sentAt, outOfOrder);
  }

  /** Doubles the ring, keeping every tracked message at its sequence number's new slot. */
  private grow(): void {
    const size = (this.mask + 1) * 2;
    const sentAt = ring(size);
    for (let seq = this.base; seq < this.nextSeq; seq++) sentAt[seq & (size - 1)] = this.sentAt[seq & this.mask];
    this.sentAt = sentAt;
    this.mask = size - 1;
  }
}

/** Replies come thousands a second per worker: one verdict object, filled in per call. */
const VERDICT: ReplyResult = { kind: 'unmatched', seq: 0, rttMs: 0, sentAt: 0, outOfOrder: false };

function verdict(kind: ReplyKind, seq: number, rttMs: number, sentAt: number, outOfOrder: boolean): ReplyResult {
  VERDICT.kind = kind;
  VERDICT.seq = seq;
  VERDICT.rttMs = rttMs;
  VERDICT.sentAt = sentAt;
  VERDICT.outOfOrder = outOfOrder;
  return VERDICT;
}
