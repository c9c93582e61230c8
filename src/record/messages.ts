/**
 * What a run records of session.stream's messages. Every message a socket sent ends as exactly
 * one of replied (within `within`), late (after it) or lost (no reply by the socket's end, with
 * the close code that took it), so `sent = replied + late + lost`. Replies that answer no
 * outstanding message (duplicates, unmatched) and gaps in the server's own sequence are counted
 * beside them, at the time they arrived.
 *
 * Workers send them to the main thread as flat Float64Arrays of MESSAGE_FIELDS numbers per
 * entry (no object per message): see MessageBatch.
 */
import { round3 } from '../util/round.js';
import { addCounts, countInto } from '../util/counts.js';

export const MSG_REPLIED = 0;
export const MSG_LATE = 1;
export const MSG_LOST = 2;
export const MSG_DUPLICATE = 3;
export const MSG_UNMATCHED = 4;
export const MSG_GAP = 5;

/** The `r` of a messages.ndjson line, by kind. */
export const MESSAGE_RESULTS = ['replied', 'late', 'lost', 'duplicate', 'unmatched', 'gap'] as const;
export type MessageResult = (typeof MESSAGE_RESULTS)[number];

/**
 * One entry: attempt index, seq (the server's, for a gap), at (epoch ms: sent, for a message
 * sent; received, for the others), rtt (ms; -1 without a reply), kind, code (the close code
 * that took a lost message; the numbers a gap skipped), flags (FLAG_OUT_OF_ORDER).
 */
export const MESSAGE_FIELDS = 7;
export const FLAG_OUT_OF_ORDER = 1;

/** Counts of one slice of the run (all of it, a phase, before or after ready). */
export interface MessageCounts {
  sent: number;
  replied: number;
  late: number;
  lost: number;
  /** Replies that came after a reply to a later message (by sequence number). */
  outOfOrder: number;
  /** Replies to a message already answered (by sequence number). */
  duplicates: number;
  /** Replies matching no outstanding message: a number never sent, or one too many in order. */
  unmatched: number;
  /** Skips in the server's own sequence (session.serverSeq), and the numbers they skipped. */
  serverGaps: number;
  serverMissing: number;
  /** Lost messages by the close code of the socket that took them ("1011", "1006", …). */
  lostByClose: Record<string, number>;
}

export function emptyMessageCounts(): MessageCounts {
  return { sent: 0, replied: 0, late: 0, lost: 0, outOfOrder: 0, duplicates: 0, unmatched: 0, serverGaps: 0, serverMissing: 0, lostByClose: {} };
}

/** Counts one entry. */
export function addMessage(c: MessageCounts, kind: number, code: number, flags: number): void {
  switch (kind) {
    case MSG_REPLIED:
    case MSG_LATE:
      c.sent++;
      if (kind === MSG_REPLIED) c.replied++;
      else c.late++;
      if (flags & FLAG_OUT_OF_ORDER) c.outOfOrder++;
      return;
    case MSG_LOST: {
      c.sent++;
      c.lost++;
      const key = String(code);
      countInto(c.lostByClose, key);
      return;
    }
    case MSG_DUPLICATE:
      c.duplicates++;
      return;
    case MSG_UNMATCHED:
      c.unmatched++;
      return;
    case MSG_GAP:
      c.serverGaps++;
      c.serverMissing += code;
      return;
  }
}

/** Adds `b` into `a` (shards, slices). */
export function mergeMessageCounts(a: MessageCounts, b: MessageCounts): MessageCounts {
  for (const key of ['sent', 'replied', 'late', 'lost', 'outOfOrder', 'duplicates', 'unmatched', 'serverGaps', 'serverMissing'] as const) a[key] += b[key];
  addCounts(a.lostByClose, b.lostByClose);
  return a;
}

/** A messages.ndjson line: times in ms since T0, as events.ndjson's. */
export interface MessageLine {
  /** The attempt (events.ndjson's `i`). */
  i: number;
  r: MessageResult;
  /** The message's sequence number (the server's, for a gap; absent for an unmatched reply). */
  seq?: number;
  /** When it was sent (replied, late, lost). */
  sent?: number;
  /** When it arrived (duplicate, unmatched, gap). */
  at?: number;
  rtt?: number;
  /** Lost: the close code of the socket that took it. */
  code?: number;
  /** Gap: how many numbers the server skipped. */
  missing?: number;
  /** A reply that came after a later message's. */
  ooo?: true;
  /** Added when the run ends. */
  phase?: string;
  /** In a merged run: the shard the line came from. */
  shard?: number;
}

/** Entry `k` of a batch as a messages.ndjson line, times relative to `t0`. */
export function messageLine(data: Float64Array, k: number, t0: number): MessageLine {
  const o = k * MESSAGE_FIELDS;
  const kind = data[o + 4];
  const line: MessageLine = { i: data[o], r: MESSAGE_RESULTS[kind] };
  const at = round3(data[o + 2] - t0);
  if (kind <= MSG_LOST) {
    line.seq = data[o + 1];
    line.sent = at;
    if (kind !== MSG_LOST) line.rtt = round3(data[o + 3]);
    else line.code = data[o + 5];
    if (data[o + 6] & FLAG_OUT_OF_ORDER) line.ooo = true;
    return line;
  }
  if (kind !== MSG_UNMATCHED || data[o + 1] !== 0) line.seq = data[o + 1];
  line.at = at;
  if (kind === MSG_GAP) line.missing = data[o + 5];
  return line;
}

/** The kind of a messages.ndjson line (for counting it back). */
export function kindOf(line: MessageLine): number {
  return MESSAGE_RESULTS.indexOf(line.r);
}
