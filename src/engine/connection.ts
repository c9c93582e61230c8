import type net from 'node:net';
import WebSocket from 'ws';
import type { Histogram } from 'hdr-histogram-js';
import { now } from '../util/clock.js';
import type { SourcePorts } from './source-ports.js';
import { recordMs, type Metric } from '../record/histogram.js';
import type { AttemptRecord, OutcomeKind } from '../record/attempt.js';
import type { ConnectionSettings } from './protocol.js';
import { fillHeaders, fillSubprotocols } from '../session/connection-templates.js';
import type { TemplateContext } from '../session/template.js';
import { buildRequest, nextKey, type UpgradeRequest } from './handshake.js';
import { ATTEMPT, type Dialler } from './dial.js';
import { dialForHandshake, openWithWsClient, sendRequest, type Upgrading } from './upgrade-reader.js';
import { SessionSteps, type StepsOwner } from './session-steps.js';
import { closeReasonText, errorCode, failureBeforeOpen, protocolViolation } from './outcome.js';
import type { CompiledTemplates } from './templates.js';
import { MessageStream, type StreamHost, type StreamOwner } from './stream.js';

// worker.ts takes these from here.

/** What an attempt needs from the worker that runs it. */
export interface AttemptHost extends StreamHost {
  /** load.population's time is up (always true without a population). */
  readonly populationOver: boolean;
  readonly settings: ConnectionSettings;
  readonly workerIndex: number;
  readonly expectRe: RegExp | null;
  readonly histograms: Record<Metric, Histogram>;
  opened(attempt: Attempt): void;
  finished(attempt: Attempt, record: AttemptRecord, wasOpen: boolean): void;
  /**
   * Deadlines are kept in the worker's FIFO queues (one timer per worker, not per attempt):
   * watch() returns a ticket, unwatch() drops the attempt from the queue once it no longer waits.
   */
  watch(kind: DeadlineKind, attempt: Attempt, due: number): number;
  unwatch(kind: DeadlineKind, ticket: number): void;
  /** Per-connection templates, compiled once per worker. */
  readonly templates: CompiledTemplates;
  /** Starts attempts that have come due; socket events call it so I/O batches don't delay starts. */
  keepSchedule(): void;
  /** This worker's source-port cursors (source-ports.ts). */
  readonly sourcePorts: SourcePorts;
  /** Records a passed step (expect, ping): ms from the step's start and from open. */
  recordStep(name: string, fromStartMs: number, fromOpenMs: number): void;
  /** The compiled regex of expect step `index`. */
  stepRegex(index: number): RegExp;
}

export type DeadlineKind = 'handshake' | 'hold' | 'expect';

type Socket = WebSocket & { [ATTEMPT]: Attempt };
/** The attempt a socket event is for. */
const attemptOf = (ws: WebSocket): Attempt => (ws as Socket)[ATTEMPT];
const EMPTY = Buffer.alloc(0);
/** An end without an answer, as Node's client reports it: a reset. */
const hangUp = (): Error => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

// Listeners shared by every WebSocket: no closures allocated per attempt on the hot path. Each
// handles its event first (its timestamp must not include other attempts' starts, and a closing
// attempt must leave `active` before the pump counts capacity), then lets any attempt that has
// come due start: keepSchedule. Not on TCP connect, TLS or the 101 (dial.ts, upgrade-reader.ts):
// the upgrade request is written, or 'open' stamped, after those, inside a measured interval.
function onOpen(this: WebSocket): void {
  const a = attemptOf(this);
  a.opened();
  a.host.keepSchedule();
}
function onMessage(this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
  const a = attemptOf(this);
  a.message(data, isBinary);
  a.host.keepSchedule();
}
function onError(this: WebSocket, err: Error): void {
  const a = attemptOf(this);
  a.error(err);
  a.host.keepSchedule();
}
function onClose(this: WebSocket, code: number, reason: Buffer): void {
  const a = attemptOf(this);
  a.closed(code, reason);
  a.host.keepSchedule();
}
function onPong(this: WebSocket): void {
  const a = attemptOf(this);
  a.pong();
  a.host.keepSchedule();
}

/**
 * One connection attempt from start to its single outcome: dial (dial.ts), upgrade
 * (upgrade-reader.ts), the session (session-steps.ts, or the send/expect shorthand here), hold,
 * close. Failures are classified (outcome.ts), never thrown: a failing target must not crash the
 * tester. The state of dialling and of the upgrade lives here too, one object per attempt.
 */
export class Attempt implements Dialler, Upgrading, StepsOwner, StreamOwner {
  readonly rec: AttemptRecord;
  private ws: WebSocket | null = null;
  private state: 'connecting' | 'open' | 'closing' | 'done' = 'connecting';
  private outcome: OutcomeKind | null = null; // decided before the close event, when known
  /** The send/expect shorthand: waiting for the expected message; hold time over. */
  private expecting = false;
  private holdOver = false;
  /** session.stream on this socket, from open. */
  private stream: MessageStream | null = null;
  private clientClosed = false;
  /** session.steps, from open (null without steps). */
  private steps: SessionSteps | null = null;
  ctx: TemplateContext | null = null;
  /** Tickets in the worker's deadline queues (-1: not waiting). */
  private handshakeTicket = -1;
  private holdTicket = -1;
  private expectTicket = -1;
  // The upgrade's state (upgrade-reader.ts, dial.ts), described there.
  sock: net.Socket | null = null;
  request: UpgradeRequest | null = null;
  key = '';
  accept = '';
  offered: readonly string[] = [];
  pending: Buffer | null = null;
  pendingLength = 0;
  pickedPort = 0;
  validatedAt = 0;

  constructor(
    readonly host: AttemptHost,
    index: number,
    scheduled: number,
    client?: number,
    attemptNo?: number,
    /** A load.population client's attempt: held until the population's time is up, not for `hold`. */
    readonly population = false,
  ) {
    this.rec = { i: index, w: host.workerIndex, sched: scheduled, start: null, tcp: null, up: null, open: null, first: null, end: 0, outcome: 'error' };
    if (client !== undefined) {
      this.rec.client = client;
      this.rec.try = attemptNo ?? 0;
    }
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** Open, and the server has not begun to close: a close frame received ends the session. */
  get isOpen(): boolean {
    return this.state === 'open' && !this.closeFrameReceived;
  }

  /**
   * ws emits 'close' only when TCP closes, after the closing handshake: a server that sends
   * 1011 and is slow to hang up must be counted by its close code, not by a deadline that
   * passes meanwhile (ws's own flag, set when the close frame is read).
   */
  private get closeFrameReceived(): boolean {
    return (this.ws as unknown as { _closeFrameReceived?: boolean } | null)?._closeFrameReceived === true;
  }

  get awaitingAnswer(): boolean {
    return this.state === 'connecting' && this.outcome === null;
  }

  start(): void {
    const s = this.host.settings;
    const rec = this.rec;
    rec.start = now();
    recordMs(this.host.histograms.scheduleLag, rec.start - rec.sched);
    const t = this.host.templates;
    if (!t.constant || s.users || t.sends.length || t.stepSends.length || this.host.stream?.perConnection) {
      this.ctx = { conn: rec.i, worker: this.host.workerIndex, user: s.users ? s.users[rec.i % s.users.length] : null, env: process.env };
    }
    const ctx = t.constant ? null : this.ctx!;
    const url = ctx ? t.url(ctx) : s.url;
    const headers = ctx ? fillHeaders(t, ctx) : s.headers;
    const protocols = ctx ? fillSubprotocols(t, ctx) : s.subprotocols;
    let request = t.request;
    try {
      request ??= buildRequest(url, headers, protocols);
      if (t.handshake === 'wsrace') this.startHandshake(request, protocols);
      else openWithWsClient(this, url, headers, protocols);
    } catch (err) {
      this.abandon(err); // a request no client would send, or an invalid source address, counted as ws's client counts it
      return;
    }
    this.handshakeTicket = this.host.watch('handshake', this, rec.start + s.handshakeTimeoutMs);
  }

  /** wsrace's handshake: dial; the request goes out once the socket connects. */
  private startHandshake(request: UpgradeRequest, protocols: readonly string[]): void {
    dialForHandshake(this, request, true);
    this.request = request;
    this.offered = protocols;
    this.key = nextKey();
  }

  /** The listeners every WebSocket gets, from ws's client or adopted after wsrace's handshake. */
  listen(ws: WebSocket): void {
    const s = this.host.settings;
    (ws as Socket)[ATTEMPT] = this;
    this.ws = ws;
    ws.on('open', onOpen);
    if (this.host.expectRe || s.steps || this.host.stream) ws.on('message', onMessage);
    if (s.steps?.some((st) => st.kind === 'ping')) ws.on('pong', onPong);
    ws.on('error', onError);
    ws.on('close', onClose);
  }

  canSend(): void {
    sendRequest(this);
  }

  rejected(status: number): void {
    this.rec.status = status;
    this.outcome = 'http';
    this.cut();
  }

  failed(err: Error): void {
    this.error(err);
    this.cut();
  }

  abandon(err: unknown): void {
    this.fail('error', errorCode(err));
  }

  endedBeforeOpen(): void {
    this.sock = null;
    if (this.outcome === null) this.error(hangUp());
    this.closed(1006, EMPTY);
  }

  /** Cuts the connection now, whoever holds it (ws, or wsrace's handshake). */
  private cut(): void {
    if (this.ws) this.ws.terminate();
    else this.sock?.destroy();
  }

  /** Stops the attempt because the run is ending: close politely if open, else cut. */
  interrupt(): void {
    if (this.state === 'done') return;
    this.outcome ??= 'interrupted';
    if (this.state === 'open' && this.ws) {
      this.state = 'closing';
      this.clientClosed = true;
      this.stream?.stop();
      this.ws.close(1001, 'wsrace run interrupted');
    } else {
      this.cut();
    }
  }

  /** Last resort when an interrupted close does not complete. */
  terminate(): void {
    if (this.state === 'done') return;
    this.outcome ??= 'interrupted';
    this.cut();
  }

  /** Gives up on an attempt whose socket never reported its end: counted, never lost. */
  forceFinish(): void {
    if (this.state === 'done') return;
    this.cut();
    this.finish(this.outcome ?? 'interrupted', this.rec.open !== null);
  }

  opened(): void {
    const rec = this.rec;
    rec.open = this.validatedAt > 0 ? this.validatedAt : now();
    this.host.unwatch('handshake', this.handshakeTicket);
    this.handshakeTicket = -1;
    if (rec.up !== null && rec.tcp !== null) recordMs(this.host.histograms.upgrade, rec.up - (rec.tls ?? rec.tcp));
    recordMs(this.host.histograms.handshake, rec.open - rec.sched);
    this.state = 'open';
    this.host.opened(this);
    if (this.host.stream !== null) {
      this.stream = new MessageStream(this.host, this, this.ws!);
      this.stream.start(rec.open);
    }
    if (this.host.settings.steps) {
      this.steps = new SessionSteps(this, this.ws!);
      return this.steps.run();
    }
    this.startShorthand();
  }

  /** The send/expect shorthand: send every message, wait for the expected one, hold. */
  private startShorthand(): void {
    const s = this.host.settings;
    const rec = this.rec;
    if (!s.expect) rec.ok = rec.open!;
    const sends = this.host.templates.sends;
    for (let k = 0; k < s.send.length; k++) this.ws!.send(this.ctx ? sends[k](this.ctx) : s.send[k]);
    if (s.expect) {
      this.expecting = true;
      this.expectTicket = this.host.watch('expect', this, rec.open! + s.expect.withinMs);
    }
    // A population socket is held until the population's time is up (endPopulation), not for `hold`.
    if (this.population) {
      if (this.host.populationOver) this.holdDeadline();
    } else if (s.holdMs <= 0) this.holdDeadline();
    else this.holdTicket = this.host.watch('hold', this, rec.open! + s.holdMs);
  }

  /** When the hold ends (epoch ms): `hold` after open; a population socket's when the population's time is up. */
  holdEndsAt(): number {
    if (this.population) return this.host.populationOver ? 0 : Infinity;
    return this.rec.open! + this.host.settings.holdMs;
  }

  /** The population's time is up: an open socket ends its session now; one still opening, once it opens. */
  endPopulation(): void {
    if (this.state !== 'open') return;
    if (this.steps) this.steps.holdEnded();
    else this.holdDeadline();
  }

  message(data: WebSocket.RawData, isBinary: boolean): void {
    const text = isBinary ? '' : data.toString();
    // A stream reply is the stream's; anything else goes on to the script.
    if (this.stream !== null && this.stream.message(text)) return;
    if (this.steps) return this.steps.message(text);
    if (!this.expecting) return;
    if (!this.host.expectRe!.test(text)) return;
    this.expecting = false;
    this.rec.first = now();
    this.rec.ok = this.rec.first;
    recordMs(this.host.histograms.firstMessage, this.rec.first - this.rec.open!);
    if (this.holdOver) this.endSession();
  }

  pong(): void {
    this.steps?.pong();
  }

  stepTimedOut(): void {
    if (this.closeFrameReceived) return;
    this.outcome = 'expect_timeout';
    this.closeByClient();
  }

  /** Called by the worker when the expect deadline passes. */
  expectDeadline(): void {
    if (!this.expecting || !this.isOpen) return;
    this.expecting = false;
    this.outcome = 'expect_timeout';
    this.closeByClient();
  }

  /** Called by the worker when the hold time is over. */
  holdDeadline(): void {
    if (this.state !== 'open') return;
    this.holdOver = true;
    if (!this.expecting) this.endSession();
  }

  /**
   * The session's natural end (the hold is over, the script done): with a stream, first the
   * replies still outstanding (at most `within`), then close 1000.
   */
  endSession(): void {
    if (this.state !== 'open') return;
    if (this.stream?.drain()) return;
    this.closeByClient();
  }

  /** The stream's last replies are in (or too late to wait for). */
  drained(): void {
    this.closeByClient();
  }

  closeByClient(code = 1000, reason?: string): void {
    if (this.state !== 'open') return;
    this.stream?.stop();
    this.state = 'closing';
    this.clientClosed = true;
    this.ws!.close(code, reason);
  }

  /** Called by the worker when the handshake deadline passes. */
  handshakeDeadline(): void {
    if (this.state !== 'connecting') return;
    this.outcome ??= 'handshake_timeout';
    this.cut();
  }

  error(err: Error): void {
    if (this.outcome !== null || this.state !== 'connecting') return this.errorAfter(err);
    this.outcome = failureBeforeOpen(err);
    if (this.outcome === 'error') this.rec.err = errorCode(err);
  }

  /** An error once the outcome is decided or the socket is open: the close event carries the outcome (1006 for a dropped socket). */
  private errorAfter(err: Error): void {
    if (this.rec.err === undefined && this.state !== 'connecting') this.rec.err = errorCode(err);
    const violation = protocolViolation(err);
    if (violation && this.outcome === null) {
      this.outcome = 'error';
      this.rec.err = violation;
    }
  }

  closed(code: number, reason: Buffer): void {
    const rec = this.rec;
    this.steps?.closed(this.outcome === null);
    if (this.stream !== null) this.settleStream(code);
    const wasOpen = rec.open !== null;
    if (wasOpen) {
      const serverClosed = !this.clientClosed;
      if (this.outcome === null) {
        this.outcome = 'close';
        rec.code = code;
        rec.serverClosed = serverClosed;
        const text = closeReasonText(reason);
        if (text !== undefined) rec.reason = text;
      }
      if (serverClosed) recordMs(this.host.histograms.serverCloseAfter, now() - rec.open!);
    }
    this.finish(this.outcome ?? 'error', wasOpen);
  }

  /** Messages still outstanding are lost to the close code; the attempt's record says what its stream did. Once. */
  private settleStream(code: number): void {
    const st = this.stream!;
    this.stream = null;
    st.settle(code);
    if (st.sent > 0) this.rec.msgs = { sent: st.sent, replied: st.replied, late: st.late, lost: st.lost };
    if (st.firstReplyAt > 0) this.rec.reply = st.firstReplyAt;
  }

  private fail(outcome: OutcomeKind, err?: string): void {
    this.outcome = outcome;
    if (err) this.rec.err = err;
    this.finish(outcome, false);
  }

  private finish(outcome: OutcomeKind, wasOpen: boolean): void {
    if (this.state === 'done') return;
    this.state = 'done';
    const rec = this.rec;
    rec.end = now();
    rec.outcome = outcome;
    if (outcome === 'error' && rec.err === undefined) rec.err = 'unknown';
    if (!wasOpen && outcome !== 'interrupted') recordMs(this.host.histograms.handshakeFail, rec.end - rec.sched);
    // Given up on without a close event (forceFinish): the socket was cut.
    if (this.stream !== null) this.settleStream(1006);
    if (this.handshakeTicket >= 0) this.host.unwatch('handshake', this.handshakeTicket);
    if (this.holdTicket >= 0) this.host.unwatch('hold', this.holdTicket);
    if (this.expectTicket >= 0) this.host.unwatch('expect', this.expectTicket);
    this.ws = null;
    this.sock = null;
    this.pending = null;
    this.request = null;
    this.host.finished(this, rec, wasOpen);
  }
}
