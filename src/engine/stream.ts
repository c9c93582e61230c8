import WebSocket from 'ws';
import type { Histogram } from 'hdr-histogram-js';
import { now } from '../util/clock.js';
import { compileJsonPath, readJsonPath, type JsonPath } from '../util/json-path.js';
import { recordMs } from '../record/histogram.js';
import { FLAG_OUT_OF_ORDER, MSG_DUPLICATE, MSG_GAP, MSG_LATE, MSG_LOST, MSG_REPLIED, MSG_UNMATCHED } from '../record/messages.js';
import { jsonContains } from '../session/json-subset.js';
import { compileStreamTemplate, type StreamTemplate } from '../session/stream-template.js';
import { isTemplated, type TemplateContext } from '../session/template.js';
import type { ConnectionSettings } from './protocol.js';
import { StreamLedger, type ReplyResult } from './stream-ledger.js';

/** session.stream and session.serverSeq, compiled once per worker. */
export interface CompiledStream {
  everyMs: number;
  withinMs: number;
  /** The last message's number from 0: message k goes at open + k·every while k·every ≤ hold. */
  lastIndex: number;
  template: StreamTemplate;
  /** The message has per-connection placeholders (${conn}, ${user.x} …): the attempt needs its context. */
  perConnection: boolean;
  /** What makes a message a reply: a regex, a JSON subset, or (both null) any message. */
  replyRe: RegExp | null;
  replyJson: Record<string, unknown> | null;
  /** Where a reply echoes its sequence number; null: replies answer messages in order. */
  seqPath: JsonPath | null;
  /** Where the server's own messages carry their counting number; null: not checked. */
  serverSeqPath: JsonPath | null;
}

export function compileStream(s: ConnectionSettings): CompiledStream | null {
  const st = s.stream;
  if (!st && !s.serverSeq) return null;
  const everyMs = st?.everyMs ?? 0;
  return {
    everyMs,
    withinMs: st?.withinMs ?? 0,
    lastIndex: everyMs > 0 ? Math.floor(s.holdMs / everyMs) : -1,
    template: compileStreamTemplate(st?.send ?? ''),
    perConnection: isTemplated(st?.send ?? ''),
    replyRe: st?.match != null ? new RegExp(st.match) : null,
    replyJson: st?.json ?? null,
    seqPath: st?.seq != null ? compileJsonPath(st.seq) : null,
    serverSeqPath: s.serverSeq ? compileJsonPath(s.serverSeq) : null,
  };
}

/** What a stream needs from the worker. */
export interface StreamHost {
  readonly stream: CompiledStream | null;
  /** Epoch ms of T0: `${sentAt}` is ms since it. */
  readonly t0: number;
  readonly histograms: { messageRtt: Histogram; messageSendLag: Histogram };
  /** Wakes `stream.fire(due)` at `due` (the worker's one tick; TimerHeap). */
  streamTimer(stream: MessageStream, due: number): void;
  /** One message's outcome, or a reply or gap that answered none (record/messages.ts). */
  messageEntry(attempt: number, seq: number, at: number, rttMs: number, kind: number, code: number, flags: number): void;
}

/** What a stream needs from its attempt. */
export interface StreamOwner {
  readonly rec: { i: number };
  readonly ctx: TemplateContext | null;
  /** When the socket's hold ends (epoch ms); Infinity for a population's socket, held until the population's time is up. */
  holdEndsAt(): number;
  /** Every reply is in after the hold (or `within` has passed for the last): the socket may close. */
  drained(): void;
}

/** ws.send's options for a Buffer that is text. */
const TEXT_FRAME = { binary: false } as const;
/** ws's readyState OPEN. */
const WS_OPEN = 1;
const SENDING = 0;
/** Every message of the hold is out (the last at or before its end); the session has not ended yet. */
const ALL_SENT = 1;
/** The session is over: waiting for the outstanding replies while any is within its `within`. */
const DRAINING = 2;
const STOPPED = 3;

/**
 * One socket's message stream: message k at open + k·every while k·every ≤ hold, on its own
 * schedule (a send that comes due late goes out late, and the lateness is recorded, so a stalled
 * server shows as latency and loss, not as a slower generator), its replies matched and timed.
 */
export class MessageStream {
  /** The due time the heap will wake this stream for; other wake-ups are stale and ignored. */
  private due = 0;
  private state = SENDING;
  /** When the socket opened: message k is due at openAt + k·every (a product, so no drift). */
  private openAt = 0;
  /** The last message's number from 0: the hold's (compileStream), none for a population's socket, whose hold ends when it is told. */
  private lastIndex = -1;
  private readonly ledger: StreamLedger;
  /** The server's last number seen; null before the first (no box for a NaN in every stream). */
  private lastServerSeq: number | null = null;
  sent = 0;
  /** When the first reply came (epoch ms; 0: none yet): a reconnected user is back once answered. */
  firstReplyAt = 0;
  replied = 0;
  late = 0;
  lost = 0;

  constructor(
    private readonly host: StreamHost,
    private readonly owner: StreamOwner,
    private readonly ws: WebSocket,
  ) {
    this.ledger = new StreamLedger(host.stream!.withinMs);
  }

  /** The socket opened at `openAt`: the first message goes now (a stream with no message, serverSeq only, sends none). */
  start(openAt: number): void {
    this.openAt = openAt;
    const cfg = this.host.stream!;
    this.lastIndex = cfg.lastIndex >= 0 && this.owner.holdEndsAt() === Infinity ? Infinity : cfg.lastIndex;
    if (this.lastIndex < 0) this.state = STOPPED;
    else this.send(openAt, now());
  }

  /** The heap's wake-up for `due`. */
  fire(due: number): void {
    if (due !== this.due) return;
    // The server's close frame is in (ws says CLOSING until TCP closes): a send would never leave, so it is not one.
    if (this.state === SENDING && this.ws.readyState !== WS_OPEN) this.state = STOPPED;
    if (this.state === SENDING) this.send(due, now());
    else if (this.state === DRAINING) this.drainOver();
  }

  private send(due: number, t: number): void {
    // Once the server's close frame is in, ws would not send it: no message goes out.
    if (this.ws.readyState !== WebSocket.OPEN) {
      this.state = STOPPED;
      return;
    }
    const cfg = this.host.stream!;
    const seq = this.ledger.send(t);
    // A Buffer goes out as one write (ws frames a string as a header plus its bytes: a writev).
    this.ws.send(Buffer.from(cfg.template(this.owner.ctx, seq, t - this.host.t0)), TEXT_FRAME);
    recordMs(this.host.histograms.messageSendLag, t > due ? t - due : 0);
    if (this.sent++ === this.lastIndex) {
      this.state = ALL_SENT;
      return;
    }
    this.due = this.openAt + this.sent * cfg.everyMs;
    this.host.streamTimer(this, this.due);
  }

  /**
   * A message from the server: true when it is a stream reply (then it is nobody else's). Other
   * messages are checked for gaps in the server's sequence, and left to the session's script.
   */
  message(text: string): boolean {
    const cfg = this.host.stream!;
    let parsed: unknown;
    if (cfg.replyRe !== null) {
      if (!cfg.replyRe.test(text)) return this.serverMessage(text, undefined);
    } else if (cfg.replyJson !== null) {
      parsed = parse(text);
      if (!jsonContains(parsed, cfg.replyJson)) return this.serverMessage(text, parsed);
    }
    const t = now();
    if (cfg.seqPath === null) {
      if (cfg.everyMs <= 0) return this.serverMessage(text, parsed);
      return this.counted(0, t, this.ledger.replyInOrder(t));
    }
    if (parsed === undefined) parsed = parse(text);
    const seq = readJsonPath(parsed, cfg.seqPath);
    // A message that matched but carries no number where the seq should be is the server's own.
    if (typeof seq !== 'number') return this.serverMessage(text, parsed);
    return this.counted(seq, t, this.ledger.replyTo(seq, t));
  }

  /** Counts a reply received at `t` carrying `seq` (0 in order), as the ledger judged it. */
  private counted(seq: number, t: number, v: ReplyResult): true {
    const i = this.owner.rec.i;
    if (v.kind === 'unmatched') this.host.messageEntry(i, seq, t, -1, MSG_UNMATCHED, 0, 0);
    else if (v.kind === 'duplicate') this.host.messageEntry(i, seq, t, -1, MSG_DUPLICATE, 0, 0);
    else {
      const late = v.kind === 'late';
      if (this.firstReplyAt === 0) this.firstReplyAt = t;
      if (late) this.late++;
      else this.replied++;
      recordMs(this.host.histograms.messageRtt, v.rttMs);
      this.host.messageEntry(i, v.seq, v.sentAt, v.rttMs, late ? MSG_LATE : MSG_REPLIED, 0, v.outOfOrder ? FLAG_OUT_OF_ORDER : 0);
    }
    if (this.state === DRAINING && !this.awaitReplies(t)) this.drainOver();
    return true;
  }

  /** A message that is not a reply: a gap in the server's own numbers is counted. Never consumed. */
  private serverMessage(text: string, parsed: unknown): false {
    const path = this.host.stream!.serverSeqPath;
    if (path === null) return false;
    const n = readJsonPath(parsed === undefined ? parse(text) : parsed, path);
    if (typeof n !== 'number') return false;
    const last = this.lastServerSeq;
    if (last !== null && n > last + 1) this.host.messageEntry(this.owner.rec.i, n, now(), -1, MSG_GAP, n - last - 1, 0);
    if (last === null || n > last) this.lastServerSeq = n;
    return false;
  }

  /**
   * The session is over: no more sends. False when no reply is worth waiting for (close now);
   * else the stream waits until every reply is in or the newest message's `within` has passed,
   * then calls drained().
   */
  drain(): boolean {
    // Asked again while waiting (the session's end can come twice: a population socket that opened
    // after the time was up, then the worker's batch; an expected message after the hold): keep waiting.
    if (this.state === DRAINING) return true;
    const t = now();
    // The hold's deadline and its last send come due together, and either may run first (or the
    // steps' hold timer a hair early): the hold's messages go out before the wait.
    while (this.state === SENDING && (this.lastIndex !== Infinity || this.due <= t)) this.send(this.due, t);
    // A population's socket has no last message: its hold ends now, with what came due.
    if (this.state === SENDING) this.state = ALL_SENT;
    if (this.state !== ALL_SENT) {
      this.state = STOPPED;
      return false;
    }
    this.state = DRAINING;
    if (this.awaitReplies(t)) return true;
    this.state = STOPPED;
    return false;
  }

  /**
   * Whether some outstanding message is still within its window at `t`: then the drain waits
   * until the newest one's window ends. Older ones past theirs do not cut it short, and do not
   * keep the socket open.
   */
  private awaitReplies(t: number): boolean {
    if (this.ledger.outstanding === 0) return false;
    const until = this.ledger.newestOutstandingAt() + this.host.stream!.withinMs;
    if (until <= t) return false;
    if (until !== this.due) {
      this.due = until;
      this.host.streamTimer(this, until);
    }
    return true;
  }

  /** The socket is closing for another reason: no more sends, no waiting. */
  stop(): void {
    this.state = STOPPED;
  }

  private drainOver(): void {
    this.state = STOPPED;
    this.owner.drained();
  }

  /** The socket closes (by either side): no more sends; every message still outstanding is lost to `code`. */
  settle(code: number): void {
    this.state = STOPPED;
    const i = this.owner.rec.i;
    this.lost += this.ledger.settleLost((seq, sentAt) => this.host.messageEntry(i, seq, sentAt, -1, MSG_LOST, code, 0));
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
