/**
 * The answer to the upgrade request, up to a validated 101. With wsrace's handshake
 * (handshake.ts): the request is written on the dialled socket, the response head gathered and
 * parsed here, and the socket handed to a ws WebSocket once the 101 checks out. With ws's client
 * (permessage-deflate, WSRACE_HANDSHAKE=ws): ws sends and parses, and wsrace runs the same checks
 * on ws's 'upgrade' event before ws does, so a failure carries wsrace's code either way.
 */
import type net from 'node:net';
import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { now } from '../util/clock.js';
import { ATTEMPT, dial, pickedPortTaken, type DialOptions, type Dialler } from './dial.js';
import { withFixedEvents } from './ws-events.js';
import { acceptFor, adoptableWebSocket, attach, checkSwitch, HandshakeError, HEAD_CAPACITY, headSoFarInvalid, isInformational, isUpgrade, parseResponseHead, scanHead, type ResponseHead, type UpgradeRequest } from './handshake.js';

/** What reading the answer needs from the attempt; the state lives on the attempt (one object each). */
export interface Upgrading extends Dialler {
  /** wsrace's handshake: the dialled socket until the 101, and the request written on it. */
  sock: net.Socket | null;
  request: UpgradeRequest | null;
  /** The request's key, the accept it asks for (hashed while the request travels), the subprotocols offered. */
  key: string;
  accept: string;
  offered: readonly string[];
  /** A response head that comes in pieces: its bytes so far (null: none pending). */
  pending: Buffer | null;
  pendingLength: number;
  /** When wsrace validated the 101 (0: not yet, or ws's client did the handshake). */
  validatedAt: number;
  /** Whether the attempt still waits for the answer: connecting, nothing counted yet. */
  readonly awaitingAnswer: boolean;
  /** A final answer that is not an upgrade: counted by its status. */
  rejected(status: number): void;
  /** The handshake failed: count `err` and cut the connection (its close ends the attempt). */
  failed(err: Error): void;
  /** No socket is left to end the attempt (a dial threw): count `err` and finish now. */
  abandon(err: unknown): void;
  /** The dialled socket closed before a 101. */
  endedBeforeOpen(): void;
  /** Listens to the WebSocket that carries the frames from here on. */
  listen(ws: WebSocket): void;
  error(err: Error): void;
}

type HandshakeSocket = net.Socket & { [ATTEMPT]: Upgrading };
type ClientSocket = WebSocket & { [ATTEMPT]: Upgrading };
const EMPTY = Buffer.alloc(0);
/** What wsrace's parser counts as invalid_http, as Node's parser would. */
const invalidHttp = (): HandshakeError => new HandshakeError('invalid_http', 'Parse Error: not a valid HTTP/1.x response head');

// Listeners on the dialled socket until the 101, shared by every attempt (no closures per attempt).
function onData(this: HandshakeSocket, chunk: Buffer): void {
  const a = this[ATTEMPT];
  readResponse(a, chunk);
  a.host.keepSchedule();
}
function onError(this: HandshakeSocket, err: Error): void {
  const a = this[ATTEMPT];
  if (redialIfPortTaken(a, this, err)) return;
  a.error(err);
  a.host.keepSchedule();
}
function onClose(this: HandshakeSocket): void {
  const a = this[ATTEMPT];
  a.endedBeforeOpen();
  a.host.keepSchedule();
}

/**
 * Dials for wsrace's handshake and listens to the socket until the 101. `pickPort`: from a
 * source address, the port is wsrace's pick (source-ports.ts), not the kernel's.
 */
export function dialForHandshake(a: Upgrading, request: UpgradeRequest, pickPort: boolean): void {
  const socket = dial(a, { host: request.host, port: request.port, ...a.host.templates.tlsOptions }, pickPort);
  a.sock = socket;
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onClose);
}

/** Stops listening to the handshake's socket and lets go of it (the 101 hands it to ws; a redial drops it). */
function releaseSocket(a: Upgrading): net.Socket {
  const socket = a.sock!;
  socket.removeListener('data', onData);
  socket.removeListener('error', onError);
  socket.removeListener('close', onClose);
  a.sock = null;
  return socket;
}

/**
 * A picked source port that was taken: that socket is dropped and the attempt dials once more
 * (dial.ts). Both errors come from the dial's own syscalls, before any deadline could have cut
 * the attempt; the handshake deadline still counts from start. False: the error is the attempt's.
 */
function redialIfPortTaken(a: Upgrading, socket: net.Socket, err: Error): boolean {
  const request = a.request;
  if (socket !== a.sock || request === null || !a.awaitingAnswer || !pickedPortTaken(a, err)) return false;
  releaseSocket(a);
  try {
    dialForHandshake(a, request, false);
  } catch (e) {
    a.abandon(e);
  }
  return true;
}

/** Writes the upgrade request once the socket can carry it (TCP connected, or TLS done for wss://). */
export function sendRequest(a: Upgrading): void {
  if (a.sock === null || a.request === null || !a.awaitingAnswer) return;
  a.sock.write(`${a.request.head}${a.key}\r\n\r\n`, 'latin1');
  // The 101's expected accept, hashed while the request travels rather than after the answer.
  a.accept = acceptFor(a.key);
}

/**
 * Bytes of the response to the upgrade request, until its head is complete. A head nearly
 * always comes in one read; one that comes in pieces is gathered in a buffer of its own, so
 * each byte is copied and scanned once (a server dribbling its head costs linear time).
 */
function readResponse(a: Upgrading, read: Buffer): void {
  if (!a.awaitingAnswer || a.sock === null) return;
  // Empty lines before a status line are skipped, as Node's parser skips them.
  const chunk = a.pending === null ? skipEmptyLines(read) : read;
  if (chunk.length === 0) return;
  let bytes = chunk;
  let from = 0;
  let overflow: Buffer | null = null;
  if (a.pending !== null) {
    from = a.pendingLength;
    const copied = chunk.copy(a.pending, from);
    a.pendingLength += copied;
    bytes = a.pending.subarray(0, a.pendingLength);
    if (copied < chunk.length) overflow = chunk.subarray(copied);
  }
  const end = scanHead(bytes, from);
  if (end === 'invalid') return a.failed(invalidHttp());
  if (end === 'more') {
    if (overflow || headSoFarInvalid(bytes, from)) return a.failed(invalidHttp()); // a full buffer and no blank line, or a broken line
    if (a.pending === null) {
      a.pending = Buffer.allocUnsafe(HEAD_CAPACITY);
      a.pendingLength = chunk.copy(a.pending, 0);
    }
    return;
  }
  a.pending = null;
  a.pendingLength = 0;
  const head = parseResponseHead(bytes.toString('latin1', 0, end));
  if (!head) return a.failed(invalidHttp());
  const rest = overflow ? Buffer.concat([bytes.subarray(end + 4), overflow]) : bytes.subarray(end + 4);
  if (isInformational(head.status)) return rest.length > 0 ? readResponse(a, rest) : undefined; // the final response follows, as Node's client waits for it
  if (!isUpgrade(head)) return a.rejected(head.status);
  a.rec.up = now();
  const checked = checkSwitch(head, a.accept, a.offered);
  if ('error' in checked) return a.failed(checked.error);
  // RFC 6455 4.1: a validated response is an established connection, in the OPEN state. Handing
  // the socket to ws (its receiver, sender, listeners) is wsrace's cost, not the target's.
  a.validatedAt = now();
  forgetKey(a);
  handOver(a, checked.protocol, rest);
}

/** The key and its accept have done their job once a 101 checks out: an open connection does not keep them (~90 B). */
function forgetKey(a: Upgrading): void {
  a.key = '';
  a.accept = '';
}

/** `bytes` without the CRs and LFs it starts with (itself when it starts with neither: no copy, no allocation). */
function skipEmptyLines(bytes: Buffer): Buffer {
  let at = 0;
  while (at < bytes.length && (bytes[at] === 13 || bytes[at] === 10)) at++;
  return at === 0 ? bytes : bytes.subarray(at);
}

/** Hands the socket, and any bytes that came after the 101, to a ws WebSocket, which emits 'open'. */
function handOver(a: Upgrading, protocol: string, rest: Buffer): void {
  const socket = releaseSocket(a);
  a.request = null;
  const ws = adoptableWebSocket(protocol, a.host.settings.closeTimeoutMs);
  a.listen(ws);
  attach(ws, socket, rest.length > 0 ? rest : EMPTY, a.host.settings.maxPayload);
}

// ---- ws's client ----------------------------------------------------------------------------

/** The key of the request ws's client built last: finishRequest runs inside its constructor. */
let lastKey = '';
function finishRequest(req: ClientRequest): void {
  lastKey = String(req.getHeader('sec-websocket-key'));
  req.end();
}

/** ws's 'upgrade' event (before its own checks): stamp the 101 and check it as wsrace's handshake does. */
function onUpgrade(this: WebSocket, res: IncomingMessage): void {
  const a = (this as ClientSocket)[ATTEMPT];
  a.rec.up = now();
  const checked = checkSwitch(headOf(res), a.accept, a.offered, a.host.settings.perMessageDeflate);
  if ('error' in checked) return a.failed(checked.error); // ws sees the socket closing and checks nothing
  forgetKey(a);
}

function onUnexpectedResponse(this: WebSocket, _req: ClientRequest, res: IncomingMessage): void {
  const a = (this as ClientSocket)[ATTEMPT];
  res.resume(); // drain the body, or the socket never closes
  a.rejected(res.statusCode ?? 0);
  a.host.keepSchedule();
}

/** The 101 that Node's parser handed over as an upgrade, its headers as it joined them (as wsrace's parser joins them). */
function headOf(res: IncomingMessage): ResponseHead {
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
  return { status: res.statusCode ?? 0, headers, upgrade: true };
}

/**
 * Starts the upgrade through ws's client (it dials through dial()). Throws what its constructor
 * throws; the request itself was checked by buildRequest before.
 */
export function openWithWsClient(a: Upgrading, url: string, headers: Record<string, string>, protocols: string[]): void {
  const s = a.host.settings;
  const ws = withFixedEvents(new WebSocket(url, protocols, {
    headers,
    perMessageDeflate: s.perMessageDeflate,
    maxPayload: s.maxPayload,
    followRedirects: false,
    closeTimeout: s.closeTimeoutMs,
    createConnection: (options: DialOptions) => dial(a, options), // ws calls it without a receiver
    finishRequest,
    ...a.host.templates.tlsOptions,
  } as unknown as WebSocket.ClientOptions));
  a.key = lastKey;
  a.accept = acceptFor(lastKey);
  a.offered = protocols;
  a.listen(ws);
  ws.on('upgrade', onUpgrade);
  ws.on('unexpected-response', onUnexpectedResponse);
}
