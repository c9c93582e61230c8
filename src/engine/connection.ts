import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { Histogram } from 'hdr-histogram-js';
import { now } from '../util/clock.js';
import { recordMs, type Metric } from '../record/histogram.js';
import type { AttemptRecord, OutcomeKind } from '../record/attempt.js';
import type { ConnectionSettings } from './protocol.js';

/** Largest close reason a control frame can carry; longer text is not from a valid peer. */
const MAX_REASON_BYTES = 123;

/** What an attempt needs from the worker that runs it. */
export interface AttemptHost {
  readonly settings: ConnectionSettings;
  readonly workerIndex: number;
  readonly expectRe: RegExp | null;
  readonly histograms: Record<Metric, Histogram>;
  opened(attempt: Attempt): void;
  finished(attempt: Attempt, record: AttemptRecord, wasOpen: boolean): void;
  /** Deadlines are kept in the worker's FIFO queues (one timer per worker, not per attempt). */
  watchHandshake(attempt: Attempt): void;
  watchHold(attempt: Attempt): void;
  watchExpect(attempt: Attempt): void;
}

/** The attempt a WebSocket belongs to: ws calls listeners with `this` = the socket. */
const ATTEMPT = Symbol('wsrace.attempt');
type Socket = WebSocket & { [ATTEMPT]: Attempt };
const attemptOf = (ws: WebSocket): Attempt => (ws as Socket)[ATTEMPT];

// Listeners shared by every socket: no closures allocated per attempt on the hot path.
function onUpgrade(this: WebSocket): void {
  attemptOf(this).rec.up = now();
}
function onUnexpectedResponse(this: WebSocket, _req: unknown, res: IncomingMessage): void {
  attemptOf(this).unexpectedResponse(res);
}
function onOpen(this: WebSocket): void {
  attemptOf(this).opened();
}
function onMessage(this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
  attemptOf(this).message(data, isBinary);
}
function onError(this: WebSocket, err: Error): void {
  attemptOf(this).error(err);
}
function onClose(this: WebSocket, code: number, reason: Buffer): void {
  attemptOf(this).closed(code, reason);
}

/**
 * One connection attempt from start to its single outcome: dial, upgrade, optional
 * send/expect, hold, close. Failures are classified, never thrown: a failing target must not
 * crash the tester.
 */
export class Attempt {
  readonly rec: AttemptRecord;
  private ws: WebSocket | null = null;
  private state: 'connecting' | 'open' | 'closing' | 'done' = 'connecting';
  private outcome: OutcomeKind | null = null; // decided before the close event, when known
  private expecting = false;
  private holdOver = false;
  private clientClosed = false;
  /** Deadlines (epoch ms), read by the worker's queues. */
  handshakeDue = 0;
  holdDue = 0;
  expectDue = 0;

  constructor(
    private readonly host: AttemptHost,
    index: number,
    scheduled: number,
  ) {
    this.rec = { i: index, w: host.workerIndex, sched: scheduled, start: null, tcp: null, up: null, open: null, first: null, end: 0, outcome: 'error' };
  }

  get done(): boolean {
    return this.state === 'done';
  }

  start(): void {
    const s = this.host.settings;
    const rec = this.rec;
    rec.start = now();
    recordMs(this.host.histograms.scheduleLag, rec.start - rec.sched);
    let ws: WebSocket;
    try {
      ws = new WebSocket(s.url, s.subprotocols, {
        headers: s.headers,
        perMessageDeflate: s.perMessageDeflate,
        maxPayload: s.maxPayload,
        followRedirects: false,
        closeTimeout: s.closeTimeoutMs,
        createConnection: this.dial,
      } as unknown as WebSocket.ClientOptions);
    } catch (err) {
      this.fail('error', errorCode(err));
      return;
    }
    (ws as Socket)[ATTEMPT] = this;
    this.ws = ws;
    ws.on('upgrade', onUpgrade);
    ws.on('unexpected-response', onUnexpectedResponse);
    ws.on('open', onOpen);
    if (this.host.expectRe) ws.on('message', onMessage);
    ws.on('error', onError);
    ws.on('close', onClose);
    this.handshakeDue = rec.start + s.handshakeTimeoutMs;
    this.host.watchHandshake(this);
  }

  /** Stops the attempt because the run is ending: close politely if open, else cut. */
  interrupt(): void {
    if (this.state === 'done') return;
    this.outcome ??= 'interrupted';
    if (this.state === 'open' && this.ws) {
      this.state = 'closing';
      this.clientClosed = true;
      this.ws.close(1001, 'wsrace run interrupted');
    } else {
      this.ws?.terminate();
    }
  }

  /** Last resort when an interrupted close does not complete. */
  terminate(): void {
    if (this.state === 'done') return;
    this.outcome ??= 'interrupted';
    this.ws?.terminate();
  }

  /** Gives up on an attempt whose socket never reported its end: counted, never lost. */
  forceFinish(): void {
    if (this.state === 'done') return;
    this.finish(this.outcome ?? 'interrupted', this.rec.open !== null);
  }

  // Records the TCP connect time on the socket ws dials through. A method (bound once per
  // attempt) because ws calls createConnection without a receiver.
  private readonly dial = (options: net.NetConnectOpts & tls.ConnectionOptions & { socketPath?: string }): net.Socket => {
    let socket: net.Socket;
    const sources = this.host.settings.localAddresses;
    if (sources.length > 0) (options as net.TcpNetConnectOpts).localAddress = sources[this.rec.i % sources.length];
    if (this.host.settings.url.startsWith('wss:')) {
      options.path = undefined;
      if (!options.servername && options.servername !== '') options.servername = net.isIP(options.host ?? '') ? '' : options.host;
      socket = tls.connect(options);
    } else {
      (options as net.IpcSocketConnectOpts).path = options.socketPath as string;
      socket = net.connect(options);
    }
    (socket as net.Socket & { [ATTEMPT]: Attempt })[ATTEMPT] = this;
    socket.once('connect', onSocketConnect);
    return socket;
  };

  /** TCP connected (called with the socket). */
  tcpConnected(socket: net.Socket): void {
    const rec = this.rec;
    rec.tcp = now();
    rec.lport = socket.localPort;
    recordMs(this.host.histograms.tcpConnect, rec.tcp - (rec.start ?? rec.tcp));
  }

  unexpectedResponse(res: IncomingMessage): void {
    this.rec.status = res.statusCode ?? 0;
    this.outcome = 'http';
    res.resume(); // drain the body, or the socket never closes
    this.ws?.terminate();
  }

  opened(): void {
    const rec = this.rec;
    rec.open = now();
    if (rec.up !== null && rec.tcp !== null) recordMs(this.host.histograms.upgrade, rec.up - rec.tcp);
    recordMs(this.host.histograms.handshake, rec.open - rec.sched);
    this.state = 'open';
    this.host.opened(this);
    const s = this.host.settings;
    const ws = this.ws!;
    for (const message of s.send) ws.send(message);
    if (s.expect) {
      this.expecting = true;
      this.expectDue = rec.open + s.expect.withinMs;
      this.host.watchExpect(this);
    }
    if (s.holdMs <= 0) this.holdDeadline();
    else {
      this.holdDue = rec.open + s.holdMs;
      this.host.watchHold(this);
    }
  }

  message(data: WebSocket.RawData, isBinary: boolean): void {
    if (!this.expecting) return;
    const text = isBinary ? '' : data.toString();
    if (!this.host.expectRe!.test(text)) return;
    this.expecting = false;
    this.rec.first = now();
    recordMs(this.host.histograms.firstMessage, this.rec.first - this.rec.open!);
    if (this.holdOver) this.closeByClient();
  }

  /** Called by the worker when the expect deadline passes. */
  expectDeadline(): void {
    if (!this.expecting || this.state !== 'open') return;
    this.expecting = false;
    this.outcome = 'expect_timeout';
    this.closeByClient();
  }

  /** Called by the worker when the hold time is over. */
  holdDeadline(): void {
    if (this.state !== 'open') return;
    this.holdOver = true;
    if (!this.expecting) this.closeByClient();
  }

  private closeByClient(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.clientClosed = true;
    this.ws!.close(1000);
  }

  /** Called by the worker when the handshake deadline passes. */
  handshakeDeadline(): void {
    if (this.state !== 'connecting') return;
    this.outcome ??= 'handshake_timeout';
    this.ws?.terminate();
  }

  error(err: Error): void {
    if (this.outcome !== null || this.state !== 'connecting') {
      if (this.rec.err === undefined && this.state !== 'connecting') this.rec.err = errorCode(err);
      // A protocol violation by the server (oversized or invalid frame, bad close code, invalid
      // UTF-8): ws fails the socket itself; count the violation, not the 1006 it leaves behind.
      const violation = protocolViolation(err);
      if (violation && this.outcome === null) {
        this.outcome = 'error';
        this.rec.err = violation;
      }
      return; // otherwise the close event carries the outcome (1006 for a dropped socket)
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') this.outcome = 'refused';
    else if (code === 'ECONNRESET') this.outcome = 'reset';
    else {
      this.outcome = 'error';
      this.rec.err = errorCode(err);
    }
  }

  closed(code: number, reason: Buffer): void {
    const rec = this.rec;
    const wasOpen = rec.open !== null;
    if (wasOpen) {
      const serverClosed = !this.clientClosed;
      if (this.outcome === null) {
        this.outcome = 'close';
        rec.code = code;
        rec.serverClosed = serverClosed;
        if (reason.length > 0) rec.reason = reason.subarray(0, MAX_REASON_BYTES).toString('utf8');
      }
      if (serverClosed) recordMs(this.host.histograms.serverCloseAfter, now() - rec.open!);
    }
    this.finish(this.outcome ?? 'error', wasOpen);
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
    this.ws = null;
    this.host.finished(this, rec, wasOpen);
  }
}

function onSocketConnect(this: net.Socket & { [ATTEMPT]: Attempt }): void {
  this[ATTEMPT].tcpConnected(this);
}

/** ws's codes for a server that broke the WebSocket protocol after open, as short names. */
const VIOLATIONS: Record<string, string> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 'max_payload',
  WS_ERR_INVALID_UTF8: 'invalid_utf8',
  WS_ERR_INVALID_CLOSE_CODE: 'invalid_close_code',
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 'protocol_error',
  WS_ERR_INVALID_OPCODE: 'protocol_error',
  WS_ERR_EXPECTED_FIN: 'protocol_error',
  WS_ERR_EXPECTED_MASK: 'protocol_error',
  WS_ERR_UNEXPECTED_MASK: 'protocol_error',
  WS_ERR_UNEXPECTED_RSV_1: 'protocol_error',
  WS_ERR_UNEXPECTED_RSV_2_3: 'protocol_error',
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 'protocol_error',
};

function protocolViolation(err: Error): string | null {
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined ? (VIOLATIONS[code] ?? null) : null;
}

/** A short, stable name for an error: its errno code, or a slug of ws's message. */
export function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && e.code.startsWith('HPE_')) return 'invalid_http';
  if (typeof e?.code === 'string' && e.code.length > 0) return e.code;
  const message = String(e?.message ?? err);
  if (/Sec-WebSocket-Accept/i.test(message)) return 'invalid_accept';
  if (/subprotocol/i.test(message)) return 'invalid_subprotocol';
  if (/Max payload size exceeded/i.test(message)) return 'max_payload';
  if (/Invalid WebSocket frame|invalid (status|opcode|UTF-8)/i.test(message)) return 'invalid_frame';
  if (/Parse Error|HPE_/i.test(message)) return 'invalid_http';
  return message.slice(0, 60).toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '') || 'unknown';
}
