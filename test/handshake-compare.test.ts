/**
 * wsrace's handshake against ws's client, answer by answer: thousands of generated server answers
 * (101s with every kind of header variant, 1xx first, 3xx–5xx with and without bodies, bad accept
 * keys, truncations at every byte), each written in pieces split at seeded random positions, go to
 * three clients: wsrace's handshake (an Attempt), ws's client driven by an Attempt
 * (WSRACE_HANDSHAKE=ws, permessage-deflate), and ws's client on its own, the reference. All three
 * must end the same way (outcome, status, error code), and open, or refuse by status, when the
 * whole head has arrived and not later: the server holds back every byte after the final head
 * until the client has decided. WSRACE_COMPARE_SEED=<n> replays a run (the seed is printed).
 */
import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Attempt, type AttemptHost } from '../src/engine/connection.js';
import { compileTemplates } from '../src/engine/templates.js';
import { acceptFor } from '../src/engine/handshake.js';
import { SourcePorts } from '../src/engine/source-ports.js';
import type { ConnectionSettings } from '../src/engine/protocol.js';
import { createHistogram, METRICS, type Metric } from '../src/record/histogram.js';
import type { Histogram } from 'hdr-histogram-js';
import { closeFrame, frame } from './helpers/raw-server.js';

const SEED = Number(process.env.WSRACE_COMPARE_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`handshake-compare seed ${SEED} (WSRACE_COMPARE_SEED=${SEED} replays it)`);

/** mulberry32: a small seeded PRNG, so a failing answer and its pieces come back with the seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
const random = prng(SEED);
const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
const chance = (p: number): boolean => random() < p;

// ---- the answers -------------------------------------------------------------------------------

/** `{accept}` in an answer is replaced by the accept key for the request it answers. */
const ACCEPT = '{accept}';
type Offer = 'none' | 'chat' | 'two' | 'deflate';
interface Case {
  name: string;
  offer: Offer;
  answer: string;
  /** Where the answer is cut (then the server ends the socket); undefined: the whole answer. */
  cutAt?: number;
  /** Split points (byte offsets) for the pieces the answer is written in. */
  splits: number[];
  /** A difference between wsrace and ws's client that is meant (see `documented`). */
  documented?: keyof typeof DOCUMENTED;
}

/**
 * Where wsrace and ws's client (Node's HTTP parser) differ on purpose: what wsrace counts, what
 * ws counts, and why. Asserted as such, so a change on either side shows.
 */
const DOCUMENTED = {
  // RFC 7230 §3.2.4 and §7: the spaces and tabs around a field value, and around a list's commas,
  // are not part of it, so "upgrade<TAB>" and "upgrade<TAB>, close" hold the token "upgrade".
  // Node 20's parser (llhttp 9) matches Connection's tokens itself and takes a tab after one as
  // part of it; it then hands the 101 over as an ordinary response. wsrace follows the RFC.
  connectionTokenTab: { wsrace: 'open', ws: 'http 101' },
} as const;

const randomCase = (text: string) => [...text].map((c) => (chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('');

/** A 101 built from header lines, each of which a variant may change, repeat, fold or drop. */
function switching(lines: string[], status = 'HTTP/1.1 101 Switching Protocols'): string {
  return `${status}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
}
const BASE = ['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${ACCEPT}`];

/** Random 101s: names and values in any case, any order, extra and repeated headers, odd whitespace, folding. */
function random101(): { name: string; answer: string; offer: Offer } {
  let lines = [...BASE];
  const notes: string[] = [];
  let offer: Offer = 'none';
  const change = (note: string, f: () => void) => {
    notes.push(note);
    f();
  };
  if (chance(0.5)) change('name case', () => (lines = lines.map((l) => randomCase(l.slice(0, l.indexOf(':'))) + l.slice(l.indexOf(':')))));
  if (chance(0.3)) change('value case', () => (lines = lines.map((l) => (/^(upgrade|connection):/i.test(l) ? l.slice(0, l.indexOf(':') + 1) + randomCase(l.slice(l.indexOf(':') + 1)) : l))));
  if (chance(0.3)) {
    const v = pick(['Upgrade:websocket', 'Upgrade:   websocket   ', 'Upgrade:\twebsocket\t', 'Upgrade: websocket, websocket', 'Upgrade: h2c', 'Upgrade:', 'Upgrade:  ', 'Upgrade : websocket', 'Upgrade: web socket', 'Upgrade: websocket\x7f']);
    change(`upgrade ${JSON.stringify(v)}`, () => (lines[lines.findIndex((l) => /^upgrade/i.test(l))] = v));
  }
  if (chance(0.3)) {
    const v = pick(['Connection: keep-alive, Upgrade', 'Connection: Upgrade, close', 'Connection:upgrade', 'Connection: keep-alive', 'Connection:', 'Connection: upgrade;x', 'Connection: x upgrade', 'Connection: ,upgrade', 'Connection: upgrade ,', 'Connection:\tupgrade', 'Connection: UPGRADE']);
    change(`connection ${JSON.stringify(v)}`, () => (lines[lines.findIndex((l) => /^connection/i.test(l))] = v));
  }
  if (chance(0.3)) {
    const v = pick([`Sec-WebSocket-Accept:${ACCEPT}`, `Sec-WebSocket-Accept:  ${ACCEPT}  `, 'Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=', 'Sec-WebSocket-Accept:', `Sec-WebSocket-Accept: ${ACCEPT}x`, `Sec-WebSocket-Accept: x${ACCEPT}`, 'Sec-WebSocket-Accept: ' + 'A'.repeat(27) + '=']);
    change(`accept ${JSON.stringify(v)}`, () => (lines[lines.findIndex((l) => /^sec-websocket-accept/i.test(l))] = v));
  }
  if (chance(0.15)) change('no upgrade', () => (lines = lines.filter((l) => !/^upgrade/i.test(l))));
  if (chance(0.15)) change('no connection', () => (lines = lines.filter((l) => !/^connection/i.test(l))));
  if (chance(0.1)) change('no accept', () => (lines = lines.filter((l) => !/^sec-websocket-accept/i.test(l))));
  if (chance(0.2)) {
    const repeat = pick(lines);
    change(`repeated ${JSON.stringify(repeat)}`, () => lines.push(repeat));
  }
  if (chance(0.2)) change('connection twice', () => lines.push('Connection: keep-alive'));
  if (chance(0.4)) {
    const extra = pick(['Server: test', 'X-Empty:', 'X-Empty: ', 'Set-Cookie: a=1', 'Date: Thu, 01 Jan 2026 00:00:00 GMT', 'Content-Length: 0', 'Content-Length: 5', 'Transfer-Encoding: chunked', 'X-Latin1: caf\xe9', 'X-Tab: a\tb', 'X_Under: 1', 'X-Quote: "a, b"']);
    change(`extra ${JSON.stringify(extra)}`, () => lines.splice(Math.floor(random() * (lines.length + 1)), 0, extra));
  }
  if (chance(0.1)) {
    const bad = pick(['X-Bad : 1', ' X-Lead: 1', 'X Bad: 1', ': nameless', 'no colon', 'X-Ctl: a\x01b', 'X-Nul: \x00', 'X-Cr: a\rb', 'X{Brace}: 1']);
    change(`bad line ${JSON.stringify(bad)}`, () => lines.splice(Math.floor(random() * (lines.length + 1)), 0, bad));
  }
  if (chance(0.1)) {
    const at = Math.floor(random() * lines.length);
    change(`fold after ${JSON.stringify(lines[at])}`, () => lines.splice(at + 1, 0, pick([' folded', '\tfolded', ' '])));
  }
  if (chance(0.2)) {
    offer = pick(['chat', 'two', 'none']);
    const v = pick(['chat', 'b', 'x', '', 'a, b', 'chat, chat', ' chat ']);
    change(`offer ${offer}, protocol ${JSON.stringify(v)}`, () => lines.push(`Sec-WebSocket-Protocol: ${v}`));
  } else if (chance(0.1)) change('offer chat, no protocol', () => (offer = 'chat'));
  if (chance(0.15)) {
    offer = chance(0.5) ? 'deflate' : offer === 'none' ? 'none' : offer;
    const v = pick(['permessage-deflate', 'permessage-deflate; client_max_window_bits=10', 'permessage-deflate; client_max_window_bits=20', 'permessage-deflate; server_no_context_takeover', 'permessage-deflate, permessage-deflate', 'x-webkit-deflate-frame', 'permessage-deflate; =', '']);
    change(`offer ${offer}, extensions ${JSON.stringify(v)}`, () => lines.push(`Sec-WebSocket-Extensions: ${v}`));
  }
  if (chance(0.2)) change('shuffled', () => lines.sort(() => random() - 0.5));
  const status = chance(0.2) ? pick(['HTTP/1.0 101 Switching Protocols', 'HTTP/1.1 101', 'HTTP/1.1 101 ', 'HTTP/1.1 101 OK \x01', 'HTTP/2.0 101 x', 'HTTP/1.2 101 x', 'HTTP/1.1  101 x', 'HTTP/1.1 101\tx', 'http/1.1 101 x', 'HTTP/1.1 1010 x']) : undefined;
  if (status) notes.push(`status ${JSON.stringify(status)}`);
  let answer = switching(lines, status);
  if (chance(0.2)) {
    const after = pick(['text frame', 'close frame']);
    notes.push(`then a ${after}`);
    answer += (after === 'text frame' ? frame(0x1, Buffer.from('hi')) : closeFrame(1000)).toString('latin1');
  }
  return { name: notes.join(', ') || 'plain 101', answer, offer };
}

/** A 101 that every client takes, varied only in ways that keep it valid: case, order, whitespace, extra headers, a frame after it. */
function valid101(): { name: string; answer: string; offer: Offer } {
  const lines = BASE.map((l) => randomCase(l.slice(0, l.indexOf(':'))) + ':' + pick(['', ' ', '  ', '\t']) + l.slice(l.indexOf(':') + 2) + pick(['', ' ', '  ']));
  const extras = ['Server: test', 'Date: Thu, 01 Jan 2026 00:00:00 GMT', 'X-Empty:', 'Set-Cookie: a=1', 'Set-Cookie: b=2', 'Content-Length: 0', 'Connection: keep-alive'];
  for (let n = Math.floor(random() * 4); n > 0; n--) lines.splice(Math.floor(random() * (lines.length + 1)), 0, pick(extras));
  const frameAfter = chance(0.3) ? frame(0x1, Buffer.from('hello')).toString('latin1') : '';
  return { name: `valid 101 ${JSON.stringify(lines)}${frameAfter ? ', then a text frame' : ''}`, answer: switching(lines, pick(['HTTP/1.1 101 Switching Protocols', 'HTTP/1.1 101', 'HTTP/1.0 101 OK'])) + frameAfter, offer: 'none' };
}

const informational = ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 102 Processing\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n', 'HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n'];
const STATUSES = ['301 Moved Permanently', '302 Found', '400 Bad Request', '401 Unauthorized', '403 Forbidden', '404 Not Found', '426 Upgrade Required', '429 Too Many Requests', '500 Internal Server Error', '502 Bad Gateway', '503 Service Unavailable', '504 Gateway Timeout', '200 OK', '204 No Content', '101 Switching Protocols'];

/** A final response other than a valid 101: a status, and a body by Content-Length, chunked, or until the end. */
function rejection(): { name: string; answer: string } {
  const status = pick(STATUSES);
  const body = pick(['content-length', 'chunked', 'until close', 'none', 'empty content-length']);
  const head = `HTTP/1.1 ${status}\r\n${status.startsWith('3') ? 'Location: /elsewhere\r\n' : ''}${status.startsWith('429') || status.startsWith('503') ? 'Retry-After: 5\r\n' : ''}`;
  const answer =
    body === 'content-length' ? `${head}Content-Length: 9\r\n\r\nnot ready` :
    body === 'chunked' ? `${head}Transfer-Encoding: chunked\r\n\r\n4\r\nnot \r\n5\r\nready\r\n0\r\n\r\n` :
    body === 'until close' ? `${head}Connection: close\r\n\r\nnot ready, ever` :
    body === 'empty content-length' ? `${head}Content-Length: 0\r\n\r\n` : `${head}\r\n`;
  return { name: `${status.slice(0, 3)} body ${body}`, answer };
}

/** Split points for an answer of `length` bytes: up to 5 pieces, at random positions. */
function splitsFor(length: number): number[] {
  const n = Math.floor(random() * 5);
  return [...new Set(Array.from({ length: n }, () => 1 + Math.floor(random() * Math.max(1, length - 1))))].sort((a, b) => a - b);
}

function generateCases(): Case[] {
  const cases: Case[] = [];
  const add = (c: Omit<Case, 'splits'>) => cases.push({ ...c, splits: splitsFor((c.cutAt ?? c.answer.length) + 24) });
  for (let k = 0; k < 800; k++) add(random101());
  for (let k = 0; k < 150; k++) add(valid101());
  for (let k = 0; k < 150; k++) {
    const first = pick(informational);
    const final = chance(0.6) ? random101() : { ...rejection(), offer: 'none' as Offer };
    add({ ...final, name: `${first.split('\r\n')[0]} first, then ${final.name}`, answer: first + final.answer });
  }
  for (let k = 0; k < 200; k++) add({ ...rejection(), offer: 'none' });
  for (const connection of ['upgrade\t', 'upgrade\t, close', 'keep-alive, Upgrade\t']) {
    const answer = switching(['Upgrade: websocket', `Connection: ${connection}`, `Sec-WebSocket-Accept: ${ACCEPT}`]);
    for (let k = 0; k < 4; k++) add({ name: `Connection: ${JSON.stringify(connection)}`, answer, offer: 'none', documented: 'connectionTokenTab' });
  }
  // Truncations: answers that are valid whole, cut at every byte, then the server ends the socket.
  const whole = [switching(BASE), informational[2] + switching(BASE), 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n\r\nnot ready', 'HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnot \r\n0\r\n\r\n'];
  for (let k = 0; k < 150; k++) {
    const c = random101();
    const cutAt = Math.floor(random() * c.answer.replace(ACCEPT, 'x'.repeat(28)).length);
    add({ ...c, name: `${c.name}, cut at byte ${cutAt}`, cutAt });
  }
  for (const answer of whole) {
    const length = answer.replace(ACCEPT, 'x'.repeat(28)).length;
    for (let cut = 0; cut < length; cut++) add({ name: `${JSON.stringify(answer.slice(0, 16))}… cut at byte ${cut}`, answer, cutAt: cut, offer: 'none' });
  }
  return cases;
}

// ---- the server --------------------------------------------------------------------------------

/** One connection's side of the server: what it answers and how far it has got. */
interface Slot {
  c: Case;
  /** Bytes written so far, and when the client decided (-1: not yet). */
  written: number;
  writtenAtDecision: number;
  /** The end of the piece that completes the final head (Infinity when there is none). */
  headPieceEnd: number;
  /** Writing waits here for the client's decision before any byte past the final head. */
  resume: (() => void) | null;
}
const slots = new Map<number, Slot>();

/** Where the final (not 1xx) response head of `bytes` ends, leading empty lines skipped; Infinity if none does. */
function finalHeadEnd(bytes: Buffer): number {
  let at = 0;
  while (at < bytes.length && (bytes[at] === 13 || bytes[at] === 10)) at++;
  for (;;) {
    const end = bytes.indexOf('\r\n\r\n', at);
    const status = /^HTTP\/\d\.\d (\d{3})/.exec(bytes.toString('latin1', at, at + 16));
    if (end < 0 || !status) return Infinity;
    const code = Number(status[1]);
    if (code < 100 || code >= 200 || code === 101) return end + 4;
    at = end + 4;
  }
}

/** Writes the answer piece by piece (each after the last was handed to the kernel), holding what follows the final head. */
function answer(slot: Slot, socket: net.Socket, key: string): void {
  let bytes = Buffer.from(slot.c.answer.replace(ACCEPT, acceptFor(key)), 'latin1');
  if (slot.c.cutAt !== undefined) bytes = bytes.subarray(0, slot.c.cutAt);
  const holdFrom = finalHeadEnd(bytes);
  const bounds = [0, ...slot.c.splits.filter((p) => p < bytes.length), bytes.length];
  slot.headPieceEnd = holdFrom === Infinity ? Infinity : bounds.find((b) => b >= holdFrom)!;
  const next = (k: number): void => {
    if (socket.destroyed) return;
    if (k + 1 >= bounds.length) return void socket.end();
    if (bounds[k] >= holdFrom && slot.writtenAtDecision < 0) {
      slot.resume = () => next(k);
      return;
    }
    slot.written = bounds[k + 1];
    socket.write(bytes.subarray(bounds[k], bounds[k + 1]), () => setImmediate(next, k + 1));
  };
  next(0);
}

async function startServer(): Promise<{ base: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.resume(); // read on, so the client's close is seen
      const id = Number(/^GET \/c\/(\d+) /.exec(head)?.[1]);
      answer(slots.get(id)!, socket, /sec-websocket-key:\s*(\S+)/i.exec(head)![1]);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- the clients -------------------------------------------------------------------------------

/** How a client ended: "open", "http 503", "error invalid_accept", "reset", "handshake_timeout" … */
interface Result {
  kind: string;
  /** Answer bytes written when it decided (open, or a status): the end of the piece completing the head. */
  writtenAtDecision: number;
}
type Client = 'wsrace' | 'ws via wsrace' | 'ws';
/** Never reached when both clients decide at the head: a client that waits for more shows as handshake_timeout. */
const TIMEOUT_MS = 10_000;
const PROTOCOLS: Record<Offer, string[]> = { none: [], chat: ['chat'], two: ['a', 'b'], deflate: [] };

function decide(id: number, kind: string, results: Map<number, Result>): void {
  if (results.has(id)) return;
  const slot = slots.get(id)!;
  slot.writtenAtDecision = slot.written;
  results.set(id, { kind, writtenAtDecision: slot.written });
  const resume = slot.resume;
  slot.resume = null;
  resume?.();
}

/** An AttemptHost for attempts outside a worker: deadlines on plain timers, nothing recorded. */
function hostFor(base: string, offer: Offer, handshake: 'wsrace' | 'ws', results: Map<number, Result>, done: Map<number, () => void>): AttemptHost {
  const settings: ConnectionSettings = {
    url: `${base}/c/\${conn}`,
    headers: {},
    subprotocols: PROTOCOLS[offer],
    handshakeTimeoutMs: TIMEOUT_MS,
    perMessageDeflate: offer === 'deflate',
    maxPayload: 1024 * 1024,
    holdMs: 60_000,
    send: [],
    expect: null,
    closeTimeoutMs: 300,
    servedAfterMs: 1000,
    localAddresses: [],
    sourcePorts: null,
    steps: null,
    users: null,
    reconnect: null,
    stream: null,
    serverSeq: null,
    tls: null,
  };
  const timers = new Map<number, NodeJS.Timeout>();
  let tickets = 0;
  return {
    settings,
    workerIndex: 0,
    expectRe: null,
    histograms: Object.fromEntries(METRICS.map((m) => [m, createHistogram()])) as Record<Metric, Histogram>,
    templates: { ...compileTemplates(settings), handshake },
    sourcePorts: new SourcePorts(null),
    stream: null,
    populationOver: true,
    t0: 0,
    streamTimer: () => undefined,
    messageEntry: () => undefined,
    opened(a) {
      decide(a.rec.i, 'open', results);
      setImmediate(() => a.terminate());
    },
    finished(_a, rec) {
      decide(rec.i, rec.outcome === 'http' ? `http ${rec.status}` : rec.outcome === 'error' ? `error ${rec.err}` : rec.outcome, results);
      done.get(rec.i)!();
    },
    watch(kind, a, due) {
      const ticket = tickets++;
      timers.set(ticket, setTimeout(() => (kind === 'handshake' ? a.handshakeDeadline() : undefined), due - Date.now()));
      return ticket;
    },
    unwatch(_kind, ticket) {
      clearTimeout(timers.get(ticket));
      timers.delete(ticket);
    },
    keepSchedule() {},
    recordStep() {},
    stepRegex: () => /$^/,
  };
}

/**
 * ws's own outcome in wsrace's words. ws's handshake errors carry no code, only a message: the
 * test reads them (wsrace never does) to know what ws decided.
 */
function wsKind(err: Error & { code?: string }): string {
  if (err.code === 'ECONNRESET') return 'reset';
  if (err.code === 'ECONNREFUSED') return 'refused';
  if (err.code?.startsWith('HPE_')) return 'error invalid_http';
  if (err.code) return `error ${err.code}`;
  const known: [RegExp, string][] = [
    [/^Invalid Upgrade header$/, 'error invalid_upgrade_header'],
    [/^Invalid Sec-WebSocket-Accept header$/, 'error invalid_accept'],
    [/^Server sent (no subprotocol|an invalid subprotocol|a subprotocol but none was requested)$/, 'error invalid_subprotocol'],
    [/^(Server sent a Sec-WebSocket-Extensions header but no extension was requested|Invalid Sec-WebSocket-Extensions header|Server indicated an extension that was not requested)$/, 'error invalid_extension'],
    [/^Opening handshake has timed out$/, 'handshake_timeout'],
  ];
  return known.find(([re]) => re.test(err.message))?.[1] ?? `error ? ${err.message}`;
}

function wsClient(base: string, id: number, offer: Offer, results: Map<number, Result>): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base}/c/${id}`, PROTOCOLS[offer], { perMessageDeflate: offer === 'deflate', handshakeTimeout: TIMEOUT_MS, followRedirects: false });
    ws.on('open', () => {
      decide(id, 'open', results);
      ws.terminate();
    });
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      decide(id, `http ${res.statusCode}`, results);
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => decide(id, wsKind(err), results));
    ws.on('close', () => resolve());
  });
}

// ---- the comparison ----------------------------------------------------------------------------

const IN_FLIGHT = 16;

describe('wsrace’s handshake and ws’s client on generated answers', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('end every answer the same way, and decide once the head is complete, not later', async () => {
    const cases = generateCases();
    const results = new Map<number, Result>();
    const done = new Map<number, () => void>();
    const offers: Offer[] = ['none', 'chat', 'two', 'deflate'];
    const hosts = new Map(offers.map((o) => [o, { wsrace: hostFor(server.base, o, 'wsrace', results, done), ws: hostFor(server.base, o, 'ws', results, done) }]));
    // wsrace's own handshake never runs with permessage-deflate: ws's client does it then.
    const clientsOf = (c: Case): Client[] => (c.offer === 'deflate' ? ['ws via wsrace', 'ws'] : ['wsrace', 'ws via wsrace', 'ws']);
    const idOf = (k: number, client: Client) => k * 3 + ['wsrace', 'ws via wsrace', 'ws'].indexOf(client);
    const runCase = (c: Case, k: number) =>
      Promise.all(
        clientsOf(c).map((client) => {
          const id = idOf(k, client);
          slots.set(id, { c, written: 0, writtenAtDecision: -1, headPieceEnd: Infinity, resume: null });
          if (client === 'ws') return wsClient(server.base, id, c.offer, results);
          return new Promise<void>((resolve) => {
            done.set(id, resolve);
            const host = hosts.get(c.offer)!;
            new Attempt(client === 'wsrace' ? host.wsrace : host.ws, id, Date.now()).start();
          });
        }),
      );
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < cases.length) {
          const k = next++;
          await runCase(cases[k], k);
        }
      }),
    );

    const problems: string[] = [];
    const tally: Record<string, number> = {};
    const mismatches: Record<string, number> = {};
    cases.forEach((c, k) => {
      const kinds = Object.fromEntries(clientsOf(c).map((client) => [client, results.get(idOf(k, client))?.kind ?? 'none']));
      const reference = kinds.ws;
      tally[reference] = (tally[reference] ?? 0) + 1;
      const where = `${c.name} [case ${k}${c.cutAt !== undefined ? `, cut at ${c.cutAt}` : ''}, pieces at ${c.splits.join(',') || '-'}, seed ${SEED}]`;
      for (const client of clientsOf(c)) {
        const expected = client === 'wsrace' && c.documented ? DOCUMENTED[c.documented].wsrace : reference;
        if (kinds[client] !== expected) {
          problems.push(`${where}: ${client} ${kinds[client]}, expected ${expected} (${JSON.stringify(kinds)})`);
          const pair = `${client} ${kinds[client]} / ws ${expected}`;
          mismatches[pair] = (mismatches[pair] ?? 0) + 1;
        }
        const result = results.get(idOf(k, client));
        const slot = slots.get(idOf(k, client))!;
        if (result && (result.kind === 'open' || result.kind.startsWith('http')) && result.writtenAtDecision !== slot.headPieceEnd) {
          problems.push(`${where}: ${client} decided (${result.kind}) with ${result.writtenAtDecision} bytes written, the head's last piece ends at ${slot.headPieceEnd}`);
        }
      }
      if (c.documented && reference !== DOCUMENTED[c.documented].ws) problems.push(`${where}: ws ${reference}, documented as ${DOCUMENTED[c.documented].ws}`);
    });
    console.log(`handshake-compare: ${cases.length} answers, ws's outcomes: ${JSON.stringify(tally)}`);
    if (problems.length > 0) console.log(`handshake-compare: ${problems.length} problems: ${JSON.stringify(mismatches, null, 1)}`);
    expect(problems.slice(0, 40)).toEqual([]);
  }, 120_000);
});
