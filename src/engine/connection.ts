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
}

/**
 * One connection attempt from start to its single outcome: dial, upgrade, optional
 * send/expect, hold, close. Failures are classified, never thrown: a failing target must not
 * crash the tester.
 */
export class Attempt {
  private readonly rec: AttemptRecord;
  private ws: WebSocket | null = null;
  private state: 'connecting' | 'open' | 'closing' | 'done' = 'connecting';
  private outcome: OutcomeKind | null = null; // decided before the close event, when known
  private timer: NodeJS.Timeout | null = null;
  private expectTimer: NodeJS.Timeout | null = null;
  private expecting = false;
  private holdOver = false;
  private clientClosed = false;

  constructor(
    private readonly host: AttemptHost,
    index: number,
    scheduled: number,
  ) {
    this.rec = { i: index, w: host.workerIndex, sched: scheduled, start: null, tcp: null, up: null, open: null, first: null, end: 0, outcome: 'error' };
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
    this.ws = ws;
    ws.on('upgrade', () => {
      rec.up = now();
    });
    ws.on('unexpected-response', this.onUnexpectedResponse);
    ws.on('open', this.onOpen);
    ws.on('message', this.onMessage);
    ws.on('error', this.onError);
    ws.on('close', this.onClose);
    this.timer = setTimeout(this.onHandshakeTimeout, s.handshakeTimeoutMs);
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

  // Records the TCP connect time on the socket ws dials through.
  private readonly dial = (options: net.NetConnectOpts & tls.ConnectionOptions & { socketPath?: string }): net.Socket => {
    let socket: net.Socket;
    if (this.host.settings.url.startsWith('wss:')) {
      options.path = undefined;
      if (!options.servername && options.servername !== '') options.servername = net.isIP(options.host ?? '') ? '' : options.host;
      socket = tls.connect(options);
    } else {
      (options as net.IpcSocketConnectOpts).path = options.socketPath as string;
      socket = net.connect(options);
    }
    socket.once('connect', () => {
      this.rec.tcp = now();
      this.rec.lport = socket.localPort;
      recordMs(this.host.histograms.tcpConnect, this.rec.tcp - (this.rec.start ?? this.rec.tcp));
    });
    return socket;
  };

  private readonly onUnexpectedResponse = (_req: unknown, res: IncomingMessage): void => {
    this.rec.status = res.statusCode ?? 0;
    this.outcome = 'http';
    res.resume(); // drain the body, or the socket never closes
    this.ws?.terminate();
  };

  private readonly onOpen = (): void => {
    const rec = this.rec;
    rec.open = now();
    this.clearTimer();
    if (rec.up !== null && rec.tcp !== null) recordMs(this.host.histograms.upgrade, rec.up - rec.tcp);
    recordMs(this.host.histograms.handshake, rec.open - rec.sched);
    this.state = 'open';
    this.host.opened(this);
    const s = this.host.settings;
    const ws = this.ws!;
    for (const message of s.send) ws.send(message);
    if (s.expect) {
      this.expecting = true;
      this.expectTimer = setTimeout(this.onExpectTimeout, s.expect.withinMs);
    }
    this.timer = setTimeout(this.onHoldOver, s.holdMs);
  };

  private readonly onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    if (!this.expecting) return;
    const text = isBinary ? '' : data.toString();
    if (!this.host.expectRe!.test(text)) return;
    this.expecting = false;
    if (this.expectTimer) clearTimeout(this.expectTimer);
    this.expectTimer = null;
    this.rec.first = now();
    recordMs(this.host.histograms.firstMessage, this.rec.first - this.rec.open!);
    if (this.holdOver) this.closeByClient();
  };

  private readonly onExpectTimeout = (): void => {
    this.expectTimer = null;
    if (!this.expecting || this.state !== 'open') return;
    this.expecting = false;
    this.outcome = 'expect_timeout';
    this.closeByClient();
  };

  private readonly onHoldOver = (): void => {
    this.timer = null;
    this.holdOver = true;
    if (!this.expecting) this.closeByClient();
  };

  private closeByClient(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.clientClosed = true;
    this.ws!.close(1000);
  }

  private readonly onHandshakeTimeout = (): void => {
    this.timer = null;
    if (this.state !== 'connecting') return;
    this.outcome ??= 'handshake_timeout';
    this.ws?.terminate();
  };

  private readonly onError = (err: Error): void => {
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
  };

  private readonly onClose = (code: number, reason: Buffer): void => {
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
  };

  private fail(outcome: OutcomeKind, err?: string): void {
    this.outcome = outcome;
    if (err) this.rec.err = err;
    this.finish(outcome, false);
  }

  private finish(outcome: OutcomeKind, wasOpen: boolean): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.clearTimer();
    if (this.expectTimer) clearTimeout(this.expectTimer);
    const rec = this.rec;
    rec.end = now();
    rec.outcome = outcome;
    if (outcome === 'error' && rec.err === undefined) rec.err = 'unknown';
    if (!wasOpen && outcome !== 'interrupted') recordMs(this.host.histograms.handshakeFail, rec.end - rec.sched);
    this.ws = null;
    this.host.finished(this, rec, wasOpen);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
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
