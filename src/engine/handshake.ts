/**
 * The client's opening handshake (RFC 6455 §4.1), written by wsrace on the socket it dials; once
 * the 101 checks out, the socket is handed to a ws WebSocket (`adoptSocket`) for the frames.
 *
 * Why not ws's own client: it goes through node:http (a ClientRequest, its streams, its parser)
 * and draws 16 bytes from the CSPRNG per socket (one call each, ~8 µs here); on a 2-core VM a
 * worker spent ~20% less CPU per open+close without them (bench/README → Performance). ws's
 * client is still used for what wsrace does not do itself: permessage-deflate's negotiation.
 *
 * The checks and their messages are ws's own (8.x, `initAsClient`), so an attempt is counted
 * the same whichever client made it.
 */
import { createHash, randomFillSync } from 'node:crypto';
import WebSocket from 'ws';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Node's default limit for a response head (--max-http-header-size). */
export const MAX_HEAD_BYTES = 16 * 1024;

/** Headers the handshake owns: a scenario's header of the same name is replaced, as ws does. */
const OWNED = new Set(['sec-websocket-version', 'sec-websocket-key', 'connection', 'upgrade']);
/** RFC 7230 token characters (a header name), and what a header value may not contain. */
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Sec-WebSocket-Key nonces, 256 drawn at a time: one call into the CSPRNG per 256 sockets
 * instead of one per socket. Still 16 random bytes each, never reused.
 */
const KEYS_PER_DRAW = 256;
const keyPool = Buffer.alloc(16 * KEYS_PER_DRAW);
let keysLeft = 0;
export function nextKey(): string {
  if (keysLeft === 0) {
    randomFillSync(keyPool);
    keysLeft = KEYS_PER_DRAW;
  }
  const at = 16 * --keysLeft;
  return keyPool.toString('base64', at, at + 16);
}

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** Where to dial and what to send: everything but the key, computed once per distinct URL. */
export interface UpgradeRequest {
  host: string;
  port: number;
  secure: boolean;
  /** The request head up to the key's value: append the key and CRLF CRLF. */
  head: string;
}

/** A header Node's http client would refuse to send: the same error codes. */
export class InvalidHeaderError extends Error {
  constructor(
    readonly code: 'ERR_INVALID_HTTP_TOKEN' | 'ERR_INVALID_CHAR',
    name: string,
  ) {
    super(code === 'ERR_INVALID_CHAR' ? `Invalid character in header content ["${name}"]` : `Header name must be a valid HTTP token ["${name}"]`);
  }
}

/**
 * The upgrade request for `url` (ws: or wss:), as ws would send it: the scenario's headers
 * (Host and Authorization may be overridden; the handshake's own may not), the subprotocols
 * offered, and Basic auth from the URL's user info. Throws InvalidHeaderError.
 */
export function buildRequest(url: string, headers: Record<string, string>, protocols: readonly string[]): UpgradeRequest {
  const u = new URL(url);
  const secure = u.protocol === 'wss:';
  const lines: string[] = [`GET ${u.pathname || '/'}${u.search} HTTP/1.1`];
  const given = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) throw new InvalidHeaderError('ERR_INVALID_HTTP_TOKEN', name);
    if (INVALID_VALUE.test(value)) throw new InvalidHeaderError('ERR_INVALID_CHAR', name);
    const lower = name.toLowerCase();
    if (OWNED.has(lower) || (lower === 'sec-websocket-protocol' && protocols.length > 0)) continue;
    given.set(lower, `${name}: ${value}`);
  }
  if (!given.has('host')) lines.push(`Host: ${u.host}`);
  if ((u.username || u.password) && !given.has('authorization')) lines.push(`Authorization: Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`);
  lines.push(...given.values(), 'Sec-WebSocket-Version: 13', 'Connection: Upgrade', 'Upgrade: websocket');
  if (protocols.length > 0) {
    const joined = protocols.join(',');
    if (INVALID_VALUE.test(joined)) throw new InvalidHeaderError('ERR_INVALID_CHAR', 'Sec-WebSocket-Protocol');
    lines.push(`Sec-WebSocket-Protocol: ${joined}`);
  }
  lines.push('Sec-WebSocket-Key: ');
  const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { host: hostname, port: u.port ? Number(u.port) : secure ? 443 : 80, secure, head: lines.join('\r\n') };
}

/** A response head: the status and the headers, names lower-cased, repeats joined by ", " (as Node does). */
export interface ResponseHead {
  status: number;
  headers: Map<string, string>;
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/;
const HTTP_PREFIX = 'HTTP/1.';

/**
 * Could `bytes` still begin a valid response? Lets garbage fail at its first bytes, as Node's
 * parser does, instead of waiting for a blank line that may never come.
 */
export function plausibleStart(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, HTTP_PREFIX.length);
  return bytes.toString('latin1', 0, n) === HTTP_PREFIX.slice(0, n);
}

/** Parses the head (the text before CRLF CRLF); null when it is not HTTP/1.x. */
export function parseResponseHead(text: string): ResponseHead | null {
  const lines = text.split('\r\n');
  const status = STATUS_LINE.exec(lines[0]);
  if (!status) return null;
  const headers = new Map<string, string>();
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k];
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) return null;
    const value = line.slice(colon + 1).trim();
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  return { status: Number(status[1]), headers };
}

/**
 * ws's checks on a 101 (its messages, which errorCode() names): the Upgrade header, the
 * accept key, the subprotocol (one of those offered, if any were), and no extension that was
 * not offered. Returns the error, or the subprotocol the server chose ('' for none).
 */
export function checkSwitch(head: ResponseHead, key: string, protocols: readonly string[]): { error: string } | { protocol: string } {
  const upgrade = head.headers.get('upgrade');
  if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') return { error: 'Invalid Upgrade header' };
  if (head.headers.get('sec-websocket-accept') !== acceptFor(key)) return { error: 'Invalid Sec-WebSocket-Accept header' };
  const chosen = head.headers.get('sec-websocket-protocol');
  if (chosen !== undefined) {
    if (protocols.length === 0) return { error: 'Server sent a subprotocol but none was requested' };
    if (!protocols.includes(chosen)) return { error: 'Server sent an invalid subprotocol' };
  } else if (protocols.length > 0) return { error: 'Server sent no subprotocol' };
  if (head.headers.has('sec-websocket-extensions')) return { error: 'Server sent a Sec-WebSocket-Extensions header but no extension was requested' };
  return { protocol: chosen ?? '' };
}

/** The parts of ws's WebSocket that take over a socket after a handshake done elsewhere. */
interface Adoptable {
  _isServer: boolean;
  _protocol: string;
  _bufferedAmount: number;
  setSocket(socket: unknown, head: Buffer, options: { allowSynchronousEvents: boolean; maxPayload: number; skipUTF8Validation: boolean }): void;
}

/** ws exposes setSocket (how its server adopts sockets); without it wsrace uses ws's client. */
export const canAdopt = typeof (WebSocket.prototype as unknown as Partial<Adoptable>).setSocket === 'function';

/**
 * A client-side WebSocket not yet attached: listeners go on it, then `attach` hands it the
 * socket (and any bytes that came after the 101), which emits 'open' synchronously.
 */
export function adoptableWebSocket(protocol: string, closeTimeoutMs: number): WebSocket {
  // address null is ws's server-side constructor; the fields set below make it a client
  // (masking its frames, refusing masked ones), as initAsClient would have.
  const ws = new (WebSocket as unknown as new (address: null, protocols: undefined, options: object) => WebSocket)(null, undefined, { autoPong: true, closeTimeout: closeTimeoutMs });
  const inner = ws as unknown as Adoptable;
  inner._isServer = false;
  inner._protocol = protocol;
  inner._bufferedAmount = 0;
  return ws;
}

export function attach(ws: WebSocket, socket: unknown, head: Buffer, maxPayload: number): void {
  (ws as unknown as Adoptable).setSocket(socket, head, { allowSynchronousEvents: true, maxPayload, skipUTF8Validation: false });
}
