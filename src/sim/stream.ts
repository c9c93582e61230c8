import type { WebSocket } from 'ws';
import type { ResolvedSimOptions } from './config.js';
import type { StartupPlan } from './phases.js';
import { round3 } from '../util/round.js';

/**
 * A socket's stream pings (a `ping` carrying a `seq`, as wsrace's session.stream sends): each is
 * answered with a pong echoing `seq` and `sentAt`, dropped, or (racy, around ready) answered
 * late; every one ends as exactly one truth `msg` line, written when its fate is final.
 */

/** What became of one stream ping. */
export type MessageAction =
  | 'replied' // the pong was written to the socket (while it was open)
  | 'dropped' // racy: swallowed because the bridge was not wired yet (`why`)
  | 'unsent'; // the reply was held (warm-up) and the socket was no longer open when it came due

/** Why racy swallowed a ping: the first message of a loss-window socket, or it arrived inside the loss window. */
export type DropReason = 'first' | 'loss_window';

/** A truth `msg` line. Times: `at` epoch ms (receipt), `atMs` ms since t0. */
export interface MessageRecord {
  type: 'msg';
  at: number;
  atMs: number;
  connId: string;
  remote: string;
  /** As the client sent it (wsrace: a number per socket from 1). */
  seq: unknown;
  /** The simulator's phase at receipt: a phase name or `ready`. */
  phase: string;
  action: MessageAction;
  why?: DropReason;
  /** How long the reply was held after receipt (planned; 0 = at once). Replied and unsent. */
  delayMs?: number;
  /** When the pong was written (stamped just before). Replied only. */
  replyAt?: number;
  replyAtMs?: number;
}

/**
 * racy's warm-up: the delay of a reply to a ping received `sinceReadyMs` after ready (negative:
 * before it, once the bridge is wired) — `delayMs` until ready, then falling linearly to 0 at
 * ready + `warmMs`, and 0 after. Either length 0 turns it off. All in the same unit (wall ms).
 */
export function warmDelay(sinceReadyMs: number, delayMs: number, warmMs: number): number {
  if (delayMs <= 0 || warmMs <= 0 || sinceReadyMs >= warmMs) return 0;
  if (sinceReadyMs <= 0) return delayMs;
  return delayMs * (1 - sinceReadyMs / warmMs);
}

/** What a socket's pings need from the simulator. */
export interface PingHost {
  sinceT0(at: number): number;
  phaseLabel(): string;
  /** How long to hold the reply to a ping received at `at` (epoch ms); 0 = answer at once. */
  replyDelayMs(at: number): number;
  /** One ping's fate is final. */
  message(rec: MessageRecord): void;
  now(): number;
}

interface Held {
  seq: unknown;
  sentAt: unknown;
  at: number;
  phase: string;
  dueAt: number;
}

/**
 * One socket's replies, in order: a reply never overtakes an earlier one (a real server answers
 * a connection's messages in turn), so each is due at max(receipt + delay, the previous one's
 * due time). Held replies wait in a FIFO behind one timer, which never sends before a reply is due.
 */
export class StreamPings {
  private readonly held: Held[] = [];
  private head = 0;
  private lastDueAt = -Infinity;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly host: PingHost,
    private readonly ws: WebSocket,
    private readonly connId: string,
    private readonly remote: string,
  ) {}

  /** A stream ping received at `at`; `drop` says racy swallows it. */
  receive(seq: unknown, sentAt: unknown, at: number, drop: DropReason | null): void {
    const phase = this.host.phaseLabel();
    if (drop !== null) return this.host.message(this.record(seq, at, phase, 'dropped', { why: drop }));
    const dueAt = Math.max(at + this.host.replyDelayMs(at), this.lastDueAt);
    this.lastDueAt = dueAt;
    const ping: Held = { seq, sentAt, at, phase, dueAt };
    if (dueAt <= at && this.pending() === 0) return this.reply(ping);
    this.held.push(ping);
    if (dueAt > at) {
      if (this.pending() === 1) this.arm();
      return;
    }
    // Due already, behind replies whose timer is late: send them all now, in order.
    if (this.timer) clearTimeout(this.timer);
    this.flush();
  }

  /** The socket closed: replies still held will never go. */
  closed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.pending() > 0) this.unsent(this.shift());
  }

  private pending(): number {
    return this.held.length - this.head;
  }

  private shift(): Held {
    const ping = this.held[this.head++];
    if (this.head === this.held.length) {
      this.held.length = 0;
      this.head = 0;
    }
    return ping;
  }

  private arm(): void {
    const wait = this.held[this.head].dueAt - this.host.now();
    this.timer = setTimeout(this.flush, Math.max(1, Math.ceil(wait)));
  }

  /** Sends every held reply that is due (timers may fire a little early: those wait for the next turn). */
  private readonly flush = (): void => {
    this.timer = null;
    const t = this.host.now();
    while (this.pending() > 0 && this.held[this.head].dueAt <= t) this.reply(this.shift());
    if (this.pending() > 0) this.arm();
  };

  private reply(p: Held): void {
    if (this.ws.readyState !== this.ws.OPEN) return this.unsent(p);
    // Stamped before the write: the client cannot have the reply before this moment.
    const replyAt = this.host.now();
    this.ws.send(JSON.stringify({ type: 'pong', seq: p.seq, sentAt: p.sentAt, timestamp: Date.now() / 1000 }));
    this.host.message(this.record(p.seq, p.at, p.phase, 'replied', { delayMs: round3(p.dueAt - p.at), replyAt, replyAtMs: this.host.sinceT0(replyAt) }));
  }

  private unsent(p: Held): void {
    this.host.message(this.record(p.seq, p.at, p.phase, 'unsent', { delayMs: round3(p.dueAt - p.at) }));
  }

  private record(seq: unknown, at: number, phase: string, action: MessageAction, extra: Partial<MessageRecord>): MessageRecord {
    return { type: 'msg', at, atMs: this.host.sinceT0(at), connId: this.connId, remote: this.remote, seq, phase, action, ...extra };
  }
}

/** racy's warm-up on the wall clock: stream replies `delayMs` late at `readyAt` (epoch ms), none `ms` after it. */
export interface Warm {
  readyAt: number;
  delayMs: number;
  ms: number;
}

/** racy's warm-up from the planned ready; null in other profiles, when startup fails, or when turned off. */
export function warmOf(o: Pick<ResolvedSimOptions, 'profile' | 'warmDelayMs' | 'warmMs' | 'timeScale'>, plan: StartupPlan, t0: number): Warm | null {
  if (o.profile !== 'racy' || plan.readyAtMs === undefined || o.warmDelayMs <= 0 || o.warmMs <= 0) return null;
  const scaled = (ms: number) => round3(ms * o.timeScale);
  return { readyAt: t0 + plan.readyAtMs, delayMs: scaled(o.warmDelayMs), ms: scaled(o.warmMs) };
}
