/**
 * The client's opening handshake (RFC 6455 §4.1), written by wsrace on the socket it dials; once
 * the 101 checks out, the socket is handed to a ws WebSocket (`adoptableWebSocket`, `attach`)
 * for the frames.
 *
 * Why not ws's own client: it builds a node:http ClientRequest (its streams, its parser) and
 * draws the key from the CSPRNG per socket, which costs CPU on the hot path (docs/performance.md,
 * "Notes moved from engine code (connection)"). ws's client is still used for what wsrace does
 * not do itself: permessage-deflate's negotiation.
 *
 * The checks are ws's own (8.x, `initAsClient`), so an attempt is counted the same whichever
 * client made it; each failure is a HandshakeError whose code is what totals.errorCodes shows.
 */
import { createHash, randomFillSync } from 'node:crypto';
import querystring from 'node:querystring';
import WebSocket from 'ws';
import * as wsModule from 'ws';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { isHeaderName, isHeaderValue, isToken, TOKEN } from '../session/header-syntax.js';
import { withFixedEvents } from './ws-events.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Node's default limit for a response head (--max-http-header-size). */
export const MAX_HEAD_BYTES = 16 * 1024;

/** Headers the handshake owns: a scenario's header of the same name is replaced, as ws does. */
const OWNED = new Set(['sec-websocket-version', 'sec-websocket-key', 'connection', 'upgrade']);

/** ws's client limits on what a server may make it buffer (initAsClient's defaults in ws 8.23). */
const CLIENT_LIMITS = { maxBufferedChunks: 256 * 1024, maxFragments: 16 * 1024, maxPendingAutoPongs: 60 };

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

/** What can be wrong with an upgrade request or its answer: the code is the one totals.errorCodes counts. */
export type HandshakeCode = 'invalid_url' | 'invalid_subprotocol' | 'invalid_http' | 'invalid_upgrade_header' | 'invalid_accept' | 'invalid_extension';

/** A handshake failure found by wsrace (the message is ws's, or Node's parser's, for the same case). */
export class HandshakeError extends Error {
  constructor(
    readonly code: HandshakeCode,
    message: string,
  ) {
    super(message);
  }
}

/** http: and https: URLs are ws: and wss: to ws's client; the secure ones go through TLS. */
const isSecureProtocol = (protocol: string): boolean => protocol === 'wss:' || protocol === 'https:';

/** Whether a target URL is dialled through TLS: its scheme, parsed as ws's client parses it (so `WSS://` is TLS too). */
export function isSecureUrl(url: string): boolean {
  try {
    return isSecureProtocol(new URL(url).protocol);
  } catch {
    return false; // not a URL: every attempt fails on it, counted
  }
}

/**
 * The upgrade request for `url`, as ws would send it: ws's URL and subprotocol checks, the
 * scenario's headers (Host and Authorization may be overridden; the handshake's own may not), the
 * subprotocols offered, and Basic auth from the URL's user info. Throws a HandshakeError
 * (invalid_url, invalid_subprotocol), or Node's own error for a header its client would refuse
 * (ERR_INVALID_HTTP_TOKEN, ERR_INVALID_CHAR).
 */
export function buildRequest(url: string, headers: Record<string, string>, protocols: readonly string[]): UpgradeRequest {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HandshakeError('invalid_url', `Invalid URL: ${url}`);
  }
  const secure = isSecureProtocol(u.protocol);
  const defaultPort = secure ? 443 : 80;
  if (!secure && u.protocol !== 'ws:' && u.protocol !== 'http:') throw new HandshakeError('invalid_url', 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"');
  if (u.hash) throw new HandshakeError('invalid_url', 'The URL contains a fragment identifier');
  if (new Set(protocols).size !== protocols.length || !protocols.every((p) => TOKEN.test(p))) throw new HandshakeError('invalid_subprotocol', 'An invalid or duplicated subprotocol was specified');
  const lines: string[] = [`GET ${u.pathname || '/'}${u.search} HTTP/1.1`];
  const given = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    const lower = name.toLowerCase();
    if (OWNED.has(lower) || (lower === 'sec-websocket-protocol' && protocols.length > 0)) continue;
    given.set(lower, `${name}: ${value}`);
  }
  // http: and https: URLs are ws: and wss: to ws; Host is the URL's host, without a default port.
  const host = u.port && Number(u.port) !== defaultPort ? `${u.hostname}:${u.port}` : u.hostname;
  if (!given.has('host')) lines.push(`Host: ${host}`);
  if ((u.username || u.password) && !given.has('authorization')) {
    const auth = `${querystring.unescape(u.username)}:${querystring.unescape(u.password)}`;
    lines.push(`Authorization: Basic ${Buffer.from(auth).toString('base64')}`);
  }
  lines.push(...given.values(), 'Sec-WebSocket-Version: 13', 'Connection: Upgrade', 'Upgrade: websocket');
  if (protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${protocols.join(',')}`);
  lines.push('Sec-WebSocket-Key: ');
  const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { host: hostname, port: u.port ? Number(u.port) : defaultPort, secure, head: lines.join('\r\n') };
}

/** A response head: the status and the headers, names lower-cased, repeats joined by ", " (as Node does). */
export interface ResponseHead {
  status: number;
  headers: Map<string, string>;
  /** An Upgrade header with a value (Node's parser takes an empty one as none). */
  upgrade: boolean;
}

const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');
/** The versions Node's parser (llhttp) takes in a response: 0.9, 1.0, 1.1 and 2.0; any reason phrase. */
const STATUS_LINE = /^HTTP\/(?:1\.[01]|2\.0|0\.9) (\d{3})(?: [^\r\n]*)?$/;
const HTTP_PREFIX = 'HTTP/';
const CR = 13;
const LF = 10;

/**
 * Where a response head that has arrived up to `bytes.length` ends: the index of its blank
 * line (CRLF CRLF), 'more' while it may still come, or 'invalid' as soon as it cannot be HTTP,
 * as Node's parser would say: not starting with HTTP/, a line ending in a bare LF, or headers
 * over Node's 16 KiB. `from` is where the bytes not seen before begin (0 for a first read), so
 * a head that arrives in pieces is scanned once, not again with every piece.
 */
export function scanHead(bytes: Buffer, from: number): number | 'more' | 'invalid' {
  if (from < HTTP_PREFIX.length) {
    const n = Math.min(bytes.length, HTTP_PREFIX.length);
    if (bytes.toString('latin1', 0, n) !== HTTP_PREFIX.slice(0, n)) return 'invalid';
  }
  const end = bytes.indexOf(CRLFCRLF, Math.max(0, from - 3));
  // Frames may follow the head in the same read: only the head's own line ends are checked.
  const scanned = end >= 0 ? end + 4 : bytes.length;
  for (let lf = bytes.indexOf(LF, from); lf >= 0 && lf < scanned; lf = bytes.indexOf(LF, lf + 1)) {
    if (lf === 0 || bytes[lf - 1] !== CR) return 'invalid';
  }
  const headBytes = end >= 0 ? end : bytes.length;
  // Node's limit counts the headers, not the status line (searched for only near the limit).
  if (headBytes > MAX_HEAD_BYTES && headBytes - (bytes.indexOf(CRLF) + 2) > MAX_HEAD_BYTES) return 'invalid';
  return end >= 0 ? end : 'more';
}
/** Room for a head that arrives in pieces: Node's 16 KiB of headers and a status line. */
export const HEAD_CAPACITY = MAX_HEAD_BYTES + 1024;

/** Parses the head (the text before CRLF CRLF); null when Node's parser would refuse it. */
export function parseResponseHead(text: string): ResponseHead | null {
  const lines = text.split('\r\n');
  const status = STATUS_LINE.exec(lines[0]);
  if (!status) return null;
  const headers = new Map<string, string>();
  let upgrade = false;
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k];
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).toLowerCase();
    const value = trimOws(line.slice(colon + 1));
    const before = headers.get(name);
    if (!validHeader(name, value) || (name === 'content-length' && before !== undefined)) return null;
    headers.set(name, before === undefined ? value : `${before}, ${value}`);
    if (name === 'upgrade' && value !== '') upgrade = true;
  }
  if (headers.has('content-length') && headers.get('transfer-encoding')) return null;
  return { status: Number(status[1]), headers, upgrade };
}

/** A header value without the spaces and tabs around it (RFC 7230's OWS). */
const trimOws = (text: string): string => text.replace(/^[ \t]+|[ \t]+$/g, '');

/**
 * A header Node's parser takes: a token for a name (a line starting with whitespace, an obs-fold,
 * is none), no control characters in the value, and a Content-Length of digits up to 2^64 − 1.
 * It also refuses a second Content-Length, even an equal one, and one beside a Transfer-Encoding
 * (RFC 7230 §3.3.2–3 allow either).
 */
function validHeader(lowerName: string, value: string): boolean {
  return isHeaderName(lowerName) && isHeaderValue(value) && (lowerName !== 'content-length' || isContentLength(value));
}

const MAX_CONTENT_LENGTH = 2n ** 64n - 1n;
function isContentLength(value: string): boolean {
  return /^\d+$/.test(value) && (value.length < 20 || BigInt(value) <= MAX_CONTENT_LENGTH);
}

/**
 * Whether a head still arriving (`bytes`: no blank line yet) is already one Node's parser has
 * refused, as it refuses a byte the moment it arrives: each line by the rules of a whole head,
 * the line still arriving by what it may hold so far. `from`: where this read's bytes begin;
 * lines that ended before it were checked with an earlier read. (A second Content-Length, or one
 * beside Transfer-Encoding, is found once the head is whole.)
 */
export function headSoFarInvalid(bytes: Buffer, from: number): boolean {
  const start = from === 0 ? 0 : bytes.lastIndexOf(LF, from - 1) + 1;
  const lines = bytes.toString('latin1', start).split('\r\n');
  const arriving = lines.pop()!;
  for (let k = 0; k < lines.length; k++) if (!(start === 0 && k === 0 ? STATUS_LINE.test(lines[k]) : headerLineValid(lines[k]))) return true;
  return start === 0 && lines.length === 0 ? !statusLineSoFarValid(arriving) : !headerLineSoFarValid(arriving);
}

function headerLineValid(line: string): boolean {
  const colon = line.indexOf(':');
  return colon > 0 && validHeader(line.slice(0, colon).toLowerCase(), trimOws(line.slice(colon + 1)));
}

/** The beginnings of a valid status line, up to the status code. */
const STATUS_STARTS = ['HTTP/1.1 ', 'HTTP/1.0 ', 'HTTP/2.0 ', 'HTTP/0.9 '];
function statusLineSoFarValid(text: string): boolean {
  const line = text.endsWith('\r') ? text.slice(0, -1) : text; // its LF may be next
  if (line.length <= 9) return STATUS_STARTS.some((s) => s.startsWith(line));
  if (line.length <= 12) return STATUS_STARTS.includes(line.slice(0, 9)) && /^\d*$/.test(line.slice(9));
  return STATUS_LINE.test(line);
}

function headerLineSoFarValid(text: string): boolean {
  if (text === '\r') return true; // the blank line that ends the head, its LF still to come
  const colon = text.indexOf(':');
  if (colon < 0) return text === '' || isToken(text);
  const line = text.endsWith('\r') ? text.slice(0, -1) : text;
  const name = line.slice(0, colon).toLowerCase();
  const value = line.slice(colon + 1).replace(/^[ \t]+/, '');
  if (name === 'content-length') return /^\d*[ \t]*$/.test(value) && (trimOws(value) === '' || isContentLength(trimOws(value)));
  return colon > 0 && isHeaderName(name) && isHeaderValue(value);
}

/** 1xx other than 101: informational (RFC 9110 §15.2); the final response follows. */
export const isInformational = (status: number): boolean => status >= 100 && status < 200 && status !== 101;

/**
 * Node's client hands a 101 over as an upgrade only with a non-empty Upgrade header and "upgrade"
 * among the Connection tokens; any other 101 is an ordinary response, which ws counts by its
 * status. (Node's parser also takes a tab after a token as part of it; RFC 7230 §3.2.6 and wsrace
 * do not: test/handshake-compare.test.ts asserts the difference.)
 */
export function isUpgrade(head: ResponseHead): boolean {
  const connection = head.headers.get('connection');
  return head.status === 101 && head.upgrade && connection !== undefined && connection.split(',').some((t) => trimOws(t).toLowerCase() === 'upgrade');
}

/** ws's exports that its typings leave out: the Sec-WebSocket-Extensions parser and permessage-deflate. */
const wsExtras = wsModule as unknown as {
  extension: { parse(header: string): Record<string, unknown[]> };
  PerMessageDeflate: new (options: { isServer: boolean }) => { accept(offers: unknown[]): unknown };
};

/**
 * ws's client's checks on the extensions a 101 accepts, with its messages: none unless
 * permessage-deflate was offered, and then only it, with parameters ws's negotiation takes (its
 * parser, its class). Null when ws would take them.
 */
function extensionsProblem(header: string, deflateOffered: boolean): string | null {
  if (!deflateOffered) return 'Server sent a Sec-WebSocket-Extensions header but no extension was requested';
  let accepted: Record<string, unknown[]>;
  try {
    accepted = wsExtras.extension.parse(header);
  } catch {
    return 'Invalid Sec-WebSocket-Extensions header';
  }
  const names = Object.keys(accepted);
  if (names.length !== 1 || names[0] !== 'permessage-deflate') return 'Server indicated an extension that was not requested';
  try {
    new wsExtras.PerMessageDeflate({ isServer: false }).accept(accepted['permessage-deflate']);
    return null;
  } catch {
    return 'Invalid Sec-WebSocket-Extensions header';
  }
}

/** ws's message for a subprotocol the server should not have chosen (`chosen`: its header), or null. */
function subprotocolProblem(chosen: string | undefined, offered: readonly string[]): string | null {
  if (chosen === undefined) return offered.length > 0 ? 'Server sent no subprotocol' : null;
  if (offered.length === 0) return 'Server sent a subprotocol but none was requested';
  return offered.includes(chosen) ? null : 'Server sent an invalid subprotocol';
}

/** A validated 101: the subprotocol the server chose ('' for none); or why it is not one. */
export type SwitchCheck = { protocol: string } | { error: HandshakeError };

/**
 * ws's checks on a 101, in its order: the Upgrade header, the accept key (`accept`: acceptFor(the
 * request's key), computed while the server answers), the subprotocol (one of those offered, if
 * any were), and the extensions (`deflateOffered`: ws's client offered permessage-deflate).
 */
export function checkSwitch(head: ResponseHead, accept: string, protocols: readonly string[], deflateOffered = false): SwitchCheck {
  const upgrade = head.headers.get('upgrade');
  if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') return { error: new HandshakeError('invalid_upgrade_header', 'Invalid Upgrade header') };
  // An empty `accept` (no request sent yet) matches no answer, not an empty header.
  if (accept === '' || head.headers.get('sec-websocket-accept') !== accept) return { error: new HandshakeError('invalid_accept', 'Invalid Sec-WebSocket-Accept header') };
  const chosen = head.headers.get('sec-websocket-protocol');
  const protocolError = subprotocolProblem(chosen, protocols);
  if (protocolError !== null) return { error: new HandshakeError('invalid_subprotocol', protocolError) };
  const extensions = head.headers.get('sec-websocket-extensions');
  const extensionError = extensions === undefined ? null : extensionsProblem(extensions, deflateOffered);
  if (extensionError !== null) return { error: new HandshakeError('invalid_extension', extensionError) };
  return { protocol: chosen ?? '' };
}

/** ws's server-side constructor (address null): how its server builds a WebSocket for a socket it accepted. */
const ServerSideWebSocket = WebSocket as unknown as new (address: null, protocols: undefined, options: object) => WebSocket;

/** The parts of ws's WebSocket that take over a socket after a handshake done elsewhere. */
interface Adoptable {
  _isServer: boolean;
  _protocol: string;
  _bufferedAmount: number;
  setSocket(socket: unknown, head: Buffer, options: { allowSynchronousEvents: boolean; maxPayload: number; skipUTF8Validation: boolean; maxBufferedChunks: number; maxFragments: number }): void;
}

/**
 * Does this ws still work the way adoption assumes (ws 8.23: package.json allows patch releases
 * only)? Its server-side constructor must leave the fields set below, and setSocket must exist;
 * otherwise wsrace uses ws's client for every attempt.
 */
function adoptionWorks(): boolean {
  try {
    const probe = new ServerSideWebSocket(null, undefined, { autoPong: true });
    const inner = probe as unknown as Partial<Adoptable>;
    return typeof inner.setSocket === 'function' && inner._isServer === true && inner._protocol === '' && probe.readyState === WebSocket.CONNECTING;
  } catch {
    return false;
  }
}
export const canAdopt = adoptionWorks();

/**
 * A client-side WebSocket not yet attached: listeners go on it, then `attach` hands it the
 * socket (and any bytes that came after the 101), which emits 'open' synchronously.
 */
export function adoptableWebSocket(protocol: string, closeTimeoutMs: number): WebSocket {
  // address null is ws's server-side constructor; the fields set below make it a client
  // (masking its frames, refusing masked ones), as initAsClient would have.
  const ws = new ServerSideWebSocket(null, undefined, { autoPong: true, maxPendingAutoPongs: CLIENT_LIMITS.maxPendingAutoPongs, closeTimeout: closeTimeoutMs });
  const inner = ws as unknown as Adoptable;
  inner._isServer = false;
  inner._protocol = protocol;
  inner._bufferedAmount = 0;
  return withFixedEvents(ws);
}

export function attach(ws: WebSocket, socket: unknown, head: Buffer, maxPayload: number): void {
  (ws as unknown as Adoptable).setSocket(socket, head, { allowSynchronousEvents: true, maxPayload, skipUTF8Validation: false, maxBufferedChunks: CLIENT_LIMITS.maxBufferedChunks, maxFragments: CLIENT_LIMITS.maxFragments });
}
