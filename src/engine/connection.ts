import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { Histogram } from 'hdr-histogram-js';
import { now } from '../util/clock.js';
import { connectQuietly } from './quiet-end.js';
import { tlsDialOptions } from './tls-context.js';
import { isPortTaken, type SourcePorts } from './source-ports.js';
import { recordMs, type Metric } from '../record/histogram.js';
import type { AttemptRecord, OutcomeKind } from '../record/attempt.js';
import type { ConnectionSettings, StepSpec } from './protocol.js';
import { compileTemplate, isTemplated, type Template, type TemplateContext } from '../session/template.js';
import { acceptFor, adoptableWebSocket, attach, buildRequest, canAdopt, checkSwitch, HEAD_CAPACITY, isInformational, isSecureUrl, isUpgrade, nextKey, parseResponseHead, scanHead, type UpgradeRequest } from './handshake.js';

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

export interface CompiledTemplates {
  url: Template;
  headers: [string, Template][];
  subprotocols: Template[];
  /** Send texts by index: the shorthand's `send` list, or each step's (null for other steps). */
  sends: Template[];
  stepSends: (Template | null)[];
  /** True when nothing is per-connection: the same options object serves every attempt. */
  constant: boolean;
  /**
   * Who does the opening handshake: wsrace (handshake.ts), or ws's client where wsrace does not
   * (permessage-deflate; WSRACE_HANDSHAKE=ws forces it, to compare the two).
   */
  handshake: 'wsrace' | 'ws';
  /** The upgrade request when it is the same for every attempt (wsrace's handshake, nothing templated). */
  request: UpgradeRequest | null;
  /** TLS options for wss:// (null for ws://) with the worker's one SecureContext, spread into each dial's own options (dial adds to them). */
  tlsOptions: tls.ConnectionOptions | null;
}

export function compileTemplates(s: ConnectionSettings): CompiledTemplates {
  const headers = Object.entries(s.headers).map(([k, v]) => [k, compileTemplate(v)] as [string, Template]);
  const all = [s.url, ...Object.values(s.headers), ...s.subprotocols];
  const constant = !all.some(isTemplated);
  const handshake = canAdopt && !s.perMessageDeflate && process.env.WSRACE_HANDSHAKE !== 'ws' ? 'wsrace' : 'ws';
  let request: UpgradeRequest | null = null;
  try {
    if (handshake === 'wsrace' && constant) request = buildRequest(s.url, s.headers, s.subprotocols);
  } catch {
    // an invalid header: every attempt fails with it, counted (built again per attempt)
  }
  return {
    url: compileTemplate(s.url),
    headers,
    subprotocols: s.subprotocols.map(compileTemplate),
    sends: s.send.map(compileTemplate),
    stepSends: (s.steps ?? []).map((st) => (st.kind === 'send' ? compileTemplate(st.text) : null)),
    constant,
    handshake,
    request,
    tlsOptions: isSecureUrl(s.url) ? tlsDialOptions(s.tls) : null,
  };
}

/** Does a JSON value contain `subset` (every key, recursively; arrays and scalars by equality)? */
export function jsonContains(value: unknown, subset: unknown): boolean {
  if (subset === null || typeof subset !== 'object') return value === subset;
  if (Array.isArray(subset)) return Array.isArray(value) && subset.length === value.length && subset.every((x, i) => jsonContains(value[i], x));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return Object.entries(subset).every(([k, v]) => jsonContains((value as Record<string, unknown>)[k], v));
}

/** The attempt a WebSocket belongs to: ws calls listeners with `this` = the socket. */
const ATTEMPT = Symbol('wsrace.attempt');
type Socket = WebSocket & { [ATTEMPT]: Attempt };
/** The attempt a socket event is for. */
const attemptOf = (ws: WebSocket): Attempt => (ws as Socket)[ATTEMPT];

// Listeners shared by every socket: no closures allocated per attempt on the hot path. Most
// handle their event first (its timestamp must not include other attempts' starts, and a closing
// attempt must leave `active` before the pump counts capacity), then let any attempt that has
// come due start: keepSchedule. Not on TCP connect, TLS or the 101: the upgrade request is
// written, or 'open' stamped, by listeners that run after these, inside a measured interval.
function onUpgrade(this: WebSocket): void {
  attemptOf(this).rec.up = now();
}
function onUnexpectedResponse(this: WebSocket, _req: unknown, res: IncomingMessage): void {
  const a = attemptOf(this);
  a.unexpectedResponse(res);
  a.host.keepSchedule();
}
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

// wsrace's own handshake (handshake.ts): listeners on the dialled socket until the 101.
type DialledSocket = net.Socket & { [ATTEMPT]: Attempt };
const EMPTY = Buffer.alloc(0);
function onHandshakeData(this: DialledSocket, chunk: Buffer): void {
  const a = this[ATTEMPT];
  a.responseData(chunk);
  a.host.keepSchedule();
}
function onHandshakeError(this: DialledSocket, err: Error): void {
  const a = this[ATTEMPT];
  if (a.redialIfPortTaken(this, err)) return;
  a.error(err);
  a.host.keepSchedule();
}
function onHandshakeClose(this: DialledSocket): void {
  const a = this[ATTEMPT];
  a.socketClosedBeforeOpen();
  a.host.keepSchedule();
}
/** An error like Node's http parser's, which errorCode() names invalid_http. */
const invalidHttp = (): Error => Object.assign(new Error('Parse Error: not an HTTP/1.x response'), { code: 'HPE_INVALID_RESPONSE' });

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
  /** session.steps: the step running now, when it started, its timer. */
  private stepIndex = 0;
  private stepStart = 0;
  private stepTimer: NodeJS.Timeout | null = null;
  private waiting: 'expect' | 'ping' | null = null;
  private ctx: TemplateContext | null = null;
  /** Tickets in the worker's deadline queues (-1: not waiting). */
  private handshakeTicket = -1;
  private holdTicket = -1;
  private expectTicket = -1;
  /** wsrace's handshake: the dialled socket until the 101, the request, its key and the accept it asks for, offered subprotocols, a partial response head. */
  private sock: DialledSocket | null = null;
  private request: UpgradeRequest | null = null;
  private key = '';
  private accept = '';
  private offered: readonly string[] = [];
  private pending: Buffer | null = null;
  private pendingLength = 0;
  /** The source port wsrace picked for the socket in `sock` (source-ports.ts); 0: the kernel's pick. */
  private pickedPort = 0;
  /** When wsrace's handshake validated the 101 (0: not yet, or ws's client did it). */
  private validatedAt = 0;

  constructor(
    readonly host: AttemptHost,
    index: number,
    scheduled: number,
    client?: number,
    attemptNo?: number,
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

  start(): void {
    const s = this.host.settings;
    const rec = this.rec;
    rec.start = now();
    recordMs(this.host.histograms.scheduleLag, rec.start - rec.sched);
    const t = this.host.templates;
    let url = s.url;
    let headers = s.headers;
    let protocols = s.subprotocols;
    if (!t.constant || s.users || t.sends.length || t.stepSends.length) {
      this.ctx = { conn: rec.i, worker: this.host.workerIndex, user: s.users ? s.users[rec.i % s.users.length] : null, env: process.env };
    }
    if (!t.constant) {
      const ctx = this.ctx!;
      url = t.url(ctx);
      headers = Object.fromEntries(t.headers.map(([k, tpl]) => [k, tpl(ctx)]));
      protocols = t.subprotocols.map((tpl) => tpl(ctx));
    }
    if (t.handshake === 'wsrace') {
      let request = t.request;
      try {
        request ??= buildRequest(url, headers, protocols);
      } catch (err) {
        this.fail('error', errorCode(err));
        return;
      }
      try {
        this.dialForHandshake(request, true);
      } catch (err) {
        this.fail('error', errorCode(err)); // e.g. an invalid source address, as ws's client counts it
        return;
      }
      this.request = request;
      this.offered = protocols;
      this.key = nextKey();
    } else {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url, protocols, {
          headers,
          perMessageDeflate: s.perMessageDeflate,
          maxPayload: s.maxPayload,
          followRedirects: false,
          closeTimeout: s.closeTimeoutMs,
          createConnection: (options: net.NetConnectOpts) => this.dial(options), // ws calls it without a receiver
          ...t.tlsOptions,
        } as unknown as WebSocket.ClientOptions);
      } catch (err) {
        this.fail('error', errorCode(err));
        return;
      }
      this.listen(ws);
      ws.on('upgrade', onUpgrade);
      ws.on('unexpected-response', onUnexpectedResponse);
    }
    this.handshakeTicket = this.host.watch('handshake', this, rec.start + s.handshakeTimeoutMs);
  }

  /** The listeners every WebSocket gets, from ws's client or adopted after wsrace's handshake. */
  private listen(ws: WebSocket): void {
    const s = this.host.settings;
    (ws as Socket)[ATTEMPT] = this;
    this.ws = ws;
    ws.on('open', onOpen);
    if (this.host.expectRe || s.steps) ws.on('message', onMessage);
    if (s.steps?.some((st) => st.kind === 'ping')) ws.on('pong', onPong);
    ws.on('error', onError);
    ws.on('close', onClose);
  }

  /**
   * Dials for wsrace's handshake and listens to the socket until the 101. `pickPort`: from a
   * source address, the port is wsrace's pick (source-ports.ts), not the kernel's.
   */
  private dialForHandshake(request: UpgradeRequest, pickPort: boolean): void {
    const socket = this.dial({ host: request.host, port: request.port, ...this.host.templates.tlsOptions }, pickPort) as DialledSocket;
    this.sock = socket;
    socket.on('data', onHandshakeData);
    socket.on('error', onHandshakeError);
    socket.on('close', onHandshakeClose);
  }

  /** Stops listening to the handshake's socket and lets go of it (the 101 hands it to ws; a redial drops it). */
  private releaseHandshakeSocket(): DialledSocket {
    const socket = this.sock!;
    socket.removeListener('data', onHandshakeData);
    socket.removeListener('error', onHandshakeError);
    socket.removeListener('close', onHandshakeClose);
    this.sock = null;
    return socket;
  }

  /** The source address of this attempt's dials (target.localAddresses, rotated by index); only when there are some. */
  private sourceAddress(): string {
    const sources = this.host.settings.localAddresses;
    return sources[this.rec.i % sources.length];
  }

  /**
   * The source port wsrace picked was taken after all (EADDRINUSE at bind, EADDRNOTAVAIL at
   * connect: source-ports.ts): that socket is dropped and the attempt dials once more, with the
   * kernel's pick, noting the port in `portTaken`. False when the error is the attempt's own, to
   * be counted. Both errors come from the dial's own syscalls (an 'error' event, never thrown),
   * before any deadline could have cut the attempt; the handshake deadline still counts from start.
   */
  redialIfPortTaken(socket: DialledSocket, err: Error): boolean {
    if (this.pickedPort === 0 || socket !== this.sock || this.request === null || this.outcome !== null || this.state !== 'connecting' || !isPortTaken(err)) return false;
    this.host.sourcePorts.taken(this.sourceAddress());
    this.rec.portTaken = this.pickedPort;
    this.pickedPort = 0;
    this.releaseHandshakeSocket();
    try {
      this.dialForHandshake(this.request, false);
    } catch (e) {
      this.fail('error', errorCode(e));
    }
    return true;
  }

  /** Sends the upgrade request once the socket can carry it (TCP connected, or TLS done for wss://). */
  private sendRequest(): void {
    if (!this.sock || !this.request || this.state !== 'connecting') return;
    this.sock.write(`${this.request.head}${this.key}\r\n\r\n`, 'latin1');
    // The 101's expected accept, hashed while the request travels rather than after the answer.
    this.accept = acceptFor(this.key);
  }

  /**
   * Bytes of the response to the upgrade request, until its head is complete. A head nearly
   * always comes in one read; one that comes in pieces is gathered in a buffer of its own, so
   * each byte is copied and scanned once (a server dribbling its head costs linear time).
   */
  responseData(chunk: Buffer): void {
    if (this.state !== 'connecting' || this.outcome !== null || !this.sock) return;
    let bytes = chunk;
    let from = 0;
    let overflow: Buffer | null = null;
    if (this.pending !== null) {
      from = this.pendingLength;
      const copied = chunk.copy(this.pending, from);
      this.pendingLength += copied;
      bytes = this.pending.subarray(0, this.pendingLength);
      if (copied < chunk.length) overflow = chunk.subarray(copied);
    }
    const end = scanHead(bytes, from);
    if (end === 'invalid') return this.handshakeFailed(invalidHttp());
    if (end === 'more') {
      if (overflow) return this.handshakeFailed(invalidHttp()); // a full buffer and no blank line
      if (this.pending === null) {
        this.pending = Buffer.allocUnsafe(HEAD_CAPACITY);
        this.pendingLength = chunk.copy(this.pending, 0);
      }
      return;
    }
    this.pending = null;
    this.pendingLength = 0;
    const head = parseResponseHead(bytes.toString('latin1', 0, end));
    if (!head) return this.handshakeFailed(invalidHttp());
    const rest = overflow ? Buffer.concat([bytes.subarray(end + 4), overflow]) : bytes.subarray(end + 4);
    if (isInformational(head.status)) return rest.length > 0 ? this.responseData(rest) : undefined; // the final response follows, as Node's client waits for it
    if (!isUpgrade(head)) {
      this.rec.status = head.status;
      this.outcome = 'http';
      this.sock.destroy();
      return;
    }
    this.rec.up = now();
    const checked = checkSwitch(head, this.accept, this.offered);
    if ('error' in checked) return this.handshakeFailed(new Error(checked.error));
    // RFC 6455 4.1: a validated response is an established connection, in the OPEN state. Handing
    // the socket to ws (its receiver, sender, listeners) is wsrace's cost, not the target's.
    this.validatedAt = now();
    const socket = this.releaseHandshakeSocket();
    this.request = null;
    const ws = adoptableWebSocket(checked.protocol, this.host.settings.closeTimeoutMs);
    this.listen(ws);
    attach(ws, socket, rest.length > 0 ? rest : EMPTY, this.host.settings.maxPayload); // emits 'open'
  }

  private handshakeFailed(err: Error): void {
    this.error(err);
    this.sock?.destroy();
  }

  /** The dialled socket closed before a 101: an end without an answer is a reset, as for Node's client. */
  socketClosedBeforeOpen(): void {
    this.sock = null;
    if (this.outcome === null) this.error(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
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

  /**
   * Dials the target (TCP, or TLS for wss://) from the attempt's source address, and stamps TCP
   * connect and TLS on the socket; wsrace's handshake and ws's client both go through it.
   */
  private dial(options: net.NetConnectOpts & tls.ConnectionOptions & { socketPath?: string }, pickPort = false): net.Socket {
    let socket: net.Socket;
    if (this.host.settings.localAddresses.length > 0) {
      const address = this.sourceAddress();
      (options as net.TcpNetConnectOpts).localAddress = address;
      const port = pickPort ? this.host.sourcePorts.next(address) : 0;
      if (port > 0) (options as net.TcpNetConnectOpts).localPort = port;
      this.pickedPort = port;
    }
    if (this.host.templates.tlsOptions !== null) {
      options.path = undefined;
      if (!options.servername && options.servername !== '') options.servername = net.isIP(options.host ?? '') ? '' : options.host;
      socket = tls.connect(options);
    } else {
      (options as net.IpcSocketConnectOpts).path = options.socketPath as string;
      socket = connectQuietly(options);
    }
    (socket as net.Socket & { [ATTEMPT]: Attempt })[ATTEMPT] = this;
    socket.once('connect', onSocketConnect);
    if (socket instanceof tls.TLSSocket) socket.once('secureConnect', onSecureConnect);
    return socket;
  }

  /** TCP connected (called with the socket). */
  tcpConnected(socket: net.Socket): void {
    const rec = this.rec;
    rec.tcp = now();
    if (!(socket instanceof tls.TLSSocket)) this.sendRequest(); // first: the bookkeeping can wait for the server
    rec.lport = socket.localPort;
    recordMs(this.host.histograms.tcpConnect, rec.tcp - (rec.start ?? rec.tcp));
  }

  /** TLS established (wss://). */
  tlsDone(): void {
    const rec = this.rec;
    rec.tls = now();
    if (rec.tcp !== null) recordMs(this.host.histograms.tlsHandshake, rec.tls - rec.tcp);
    this.sendRequest();
  }

  unexpectedResponse(res: IncomingMessage): void {
    this.rec.status = res.statusCode ?? 0;
    this.outcome = 'http';
    res.resume(); // drain the body, or the socket never closes
    this.ws?.terminate();
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
    const s = this.host.settings;
    const ws = this.ws!;
    if (s.steps) return this.runSteps();
    if (!s.expect) rec.ok = rec.open;
    const sends = this.host.templates.sends;
    for (let k = 0; k < s.send.length; k++) ws.send(this.ctx ? sends[k](this.ctx) : s.send[k]);
    if (s.expect) {
      this.expecting = true;
      this.expectTicket = this.host.watch('expect', this, rec.open + s.expect.withinMs);
    }
    if (s.holdMs <= 0) this.holdDeadline();
    else this.holdTicket = this.host.watch('hold', this, rec.open + s.holdMs);
  }

  message(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.waiting === 'expect') return this.stepMessage(data, isBinary);
    if (!this.expecting) return;
    const text = isBinary ? '' : data.toString();
    if (!this.host.expectRe!.test(text)) return;
    this.expecting = false;
    this.rec.first = now();
    this.rec.ok = this.rec.first;
    recordMs(this.host.histograms.firstMessage, this.rec.first - this.rec.open!);
    if (this.holdOver) this.closeByClient();
  }

  // ---- session.steps: a small state machine, one step at a time ----------------------------

  private runSteps(): void {
    const steps = this.host.settings.steps!;
    const ws = this.ws!;
    while (this.state === 'open' && this.stepIndex < steps.length) {
      const step = steps[this.stepIndex];
      switch (step.kind) {
        case 'send': {
          const tpl = this.host.templates.stepSends[this.stepIndex];
          ws.send(tpl && this.ctx ? tpl(this.ctx) : step.text);
          this.stepIndex++;
          continue;
        }
        case 'expect':
        case 'ping':
          this.stepStart = now();
          this.waiting = step.kind;
          if (step.kind === 'ping') ws.ping();
          this.stepTimer = setTimeout(this.stepTimedOut, step.withinMs);
          return;
        case 'sleep':
          this.stepTimer = setTimeout(this.nextStep, step.ms);
          return;
        case 'close':
          this.rec.ok ??= now();
          this.stepIndex = steps.length;
          this.state = 'closing';
          this.clientClosed = true;
          ws.close(step.code, step.reason);
          return;
      }
    }
    if (this.state !== 'open') return;
    this.rec.ok ??= now();
    // Every step done: keep the socket until `hold` has passed since open, then close 1000.
    const left = this.rec.open! + this.host.settings.holdMs - now();
    if (left <= 0) this.closeByClient();
    else this.stepTimer = setTimeout(this.nextStep, left);
  }

  private readonly nextStep = (): void => {
    this.stepTimer = null;
    const steps = this.host.settings.steps!;
    if (this.stepIndex >= steps.length) return this.closeByClient();
    this.stepIndex++;
    this.runSteps();
  };

  private stepPassed(): void {
    const step = this.host.settings.steps![this.stepIndex] as Extract<StepSpec, { name: string }>;
    const t = now();
    this.host.recordStep(step.name, t - this.stepStart, t - this.rec.open!);
    if (this.rec.first === null) this.rec.first = t;
    if (this.stepTimer) clearTimeout(this.stepTimer);
    this.stepTimer = null;
    this.waiting = null;
    this.stepIndex++;
    this.runSteps();
  }

  private stepMessage(data: WebSocket.RawData, isBinary: boolean): void {
    const step = this.host.settings.steps![this.stepIndex] as Extract<StepSpec, { kind: 'expect' }>;
    const text = isBinary ? '' : data.toString();
    if (step.match !== null) {
      if (!this.host.stepRegex(this.stepIndex).test(text)) return;
    } else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return;
      }
      if (!jsonContains(parsed, step.json)) return;
    }
    this.stepPassed();
  }

  pong(): void {
    if (this.waiting === 'ping') this.stepPassed();
  }

  private readonly stepTimedOut = (): void => {
    this.stepTimer = null;
    if (this.waiting === null || this.state !== 'open') return;
    const step = this.host.settings.steps![this.stepIndex] as Extract<StepSpec, { name: string }>;
    this.waiting = null;
    this.outcome = 'expect_timeout';
    this.rec.step = step.name;
    this.rec.stepFail = 'timeout';
    this.closeByClient();
  };

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
    this.cut();
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
    if (this.stepTimer) clearTimeout(this.stepTimer);
    this.stepTimer = null;
    if (this.waiting !== null && this.outcome === null) {
      // The socket closed while a step waited: that step failed with the close code, not a timeout.
      const step = this.host.settings.steps![this.stepIndex] as Extract<StepSpec, { name: string }>;
      rec.step = step.name;
      rec.stepFail = 'closed';
      this.waiting = null;
    }
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

function onSocketConnect(this: net.Socket & { [ATTEMPT]: Attempt }): void {
  this[ATTEMPT].tcpConnected(this);
}
function onSecureConnect(this: net.Socket & { [ATTEMPT]: Attempt }): void {
  this[ATTEMPT].tlsDone();
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
