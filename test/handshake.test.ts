import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type net from 'node:net';
import { OutgoingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptFor, buildRequest, canAdopt, checkSwitch, HandshakeError, headSoFarInvalid, isInformational, isUpgrade, nextKey, parseResponseHead, scanHead } from '../src/engine/handshake.js';
import { isHeaderName, isHeaderValue } from '../src/session/header-syntax.js';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';
import type { Summary } from '../src/report/summary.js';
import { acceptKey, closeFrame, frame, startRawServer, switching } from './helpers/raw-server.js';

describe('the upgrade request wsrace writes', () => {
  it('is the request ws would send: path and query, Host, the handshake headers, the key last', () => {
    const r = buildRequest('ws://example.test:8080/chat?room=1', { 'X-Trace': 'abc' }, []);
    expect(r).toMatchObject({ host: 'example.test', port: 8080, secure: false });
    expect(r.head.split('\r\n')).toEqual(['GET /chat?room=1 HTTP/1.1', 'Host: example.test:8080', 'X-Trace: abc', 'Sec-WebSocket-Version: 13', 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Key: ']);
  });

  it('default ports, IPv6 hosts, subprotocols, Basic auth from the URL', () => {
    expect(buildRequest('wss://h.test/', {}, [])).toMatchObject({ host: 'h.test', port: 443, secure: true });
    expect(buildRequest('ws://h.test', {}, []).head).toContain('GET / HTTP/1.1\r\nHost: h.test\r\n');
    const v6 = buildRequest('ws://[::1]:9000/x', {}, []);
    expect(v6).toMatchObject({ host: '::1', port: 9000 });
    expect(v6.head).toContain('Host: [::1]:9000\r\n');
    expect(buildRequest('ws://h.test/', {}, ['v2.chat', 'v1.chat']).head).toContain('\r\nSec-WebSocket-Protocol: v2.chat,v1.chat\r\n');
    // user info is percent-decoded before it is encoded, as ws does
    expect(buildRequest('ws://ann:s%20cret%401@h.test/', {}, []).head).toContain(`\r\nAuthorization: Basic ${Buffer.from('ann:s cret@1').toString('base64')}\r\n`);
    expect(buildRequest('http://h.test:80/', {}, [])).toMatchObject({ port: 80, secure: false });
    expect(buildRequest('https://h.test/', {}, []).head).toContain('\r\nHost: h.test\r\n');
  });

  it('a scenario may set Host and Authorization, not the handshake’s own headers', () => {
    const head = buildRequest('ws://h.test/', { host: 'other.test', Connection: 'keep-alive', 'sec-websocket-key': 'x', Authorization: 'Bearer t' }, []).head;
    expect(head).toContain('\r\nhost: other.test\r\n');
    expect(head).not.toContain('Host: h.test');
    expect(head).toContain('\r\nAuthorization: Bearer t\r\n');
    expect(head).not.toContain('keep-alive');
    expect(head.match(/sec-websocket-key/gi)).toHaveLength(1);
  });

  it('refuses a header Node’s client would refuse, with its error code', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as NodeJS.ErrnoException).code;
      }
      return null;
    };
    expect(codeOf(() => buildRequest('ws://h.test/', { 'X-A': 'line\r\nInjected: 1' }, []))).toBe('ERR_INVALID_CHAR');
    expect(codeOf(() => buildRequest('ws://h.test/', { 'Bad Name': 'v' }, []))).toBe('ERR_INVALID_HTTP_TOKEN');
  });

  it('header names and values: exactly what Node’s client (and so ws’s) sends', () => {
    const nodeSends = (name: string, value: string) => {
      try {
        new OutgoingMessage().setHeader(name, value);
        return true;
      } catch {
        return false;
      }
    };
    for (let c = 0; c < 0x180; c++) {
      const ch = String.fromCharCode(c);
      expect(isHeaderName(`x${ch}`), `name with ${c}`).toBe(nodeSends(`x${ch}`, 'v'));
      expect(isHeaderValue(`a${ch}b`), `value with ${c}`).toBe(nodeSends('x', `a${ch}b`));
    }
    expect(isHeaderName('')).toBe(false);
    expect(isHeaderValue('')).toBe(true);
  });

  it('refuses what ws refuses, with ws’s messages and a code: a bad URL, a fragment, a bad or repeated subprotocol', () => {
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(HandshakeError);
        return [(err as HandshakeError).code, (err as Error).message];
      }
      return null;
    };
    expect(refusal(() => buildRequest('not a url', {}, []))).toEqual(['invalid_url', 'Invalid URL: not a url']);
    expect(refusal(() => buildRequest('ftp://h.test/', {}, []))).toEqual(['invalid_url', 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"']);
    expect(refusal(() => buildRequest('ws://h.test/#x', {}, []))).toEqual(['invalid_url', 'The URL contains a fragment identifier']);
    expect(refusal(() => buildRequest('ws://h.test/', {}, ['chat', 'chat']))).toEqual(['invalid_subprotocol', 'An invalid or duplicated subprotocol was specified']);
    expect(refusal(() => buildRequest('ws://h.test/', {}, ['a b']))).toEqual(['invalid_subprotocol', 'An invalid or duplicated subprotocol was specified']);
  });

  it('the installed ws can adopt a socket (else every attempt would quietly fall back to ws’s client)', () => {
    expect(canAdopt).toBe(true);
  });

  it('draws a fresh 16-byte key for every socket', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => nextKey()));
    expect(keys.size).toBe(1000);
    for (const k of keys) expect(Buffer.from(k, 'base64')).toHaveLength(16);
  });
});

describe('the response wsrace reads', () => {
  it('parses the status and the headers (names lower-cased, repeats joined)', () => {
    const head = parseResponseHead('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nX-A: 1\r\nx-a: 2');
    expect(head?.status).toBe(503);
    expect([...head!.headers]).toEqual([
      ['retry-after', '5'],
      ['x-a', '1, 2'],
    ]);
    expect(parseResponseHead('HTTP/1.0 101')?.status).toBe(101);
  });

  it('refuses what Node’s parser refuses: not HTTP, a header without a name, control characters, a bad, repeated or conflicting Content-Length', () => {
    expect(parseResponseHead('\x00\x01 garbage')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 101 OK\r\nno colon here')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 101 OK\r\nX-A: a\x00b')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 101 OK\r\nX-A: a\x7fb')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 101 OK\r\nX-A: 1\r\n folded')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 101 OK\r\nContent-Length: abc')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 503 OK\r\nContent-Length: 1\r\nContent-Length: 2')).toBeNull();
    // Node refuses a second Content-Length even when it is equal, and one beside Transfer-Encoding.
    expect(parseResponseHead('HTTP/1.1 503 OK\r\nContent-Length: 2\r\ncontent-length: 2')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 503 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 503 OK\r\nTransfer-Encoding:\r\nContent-Length: 2')?.status).toBe(503);
    expect(parseResponseHead('HTTP/1.1 503 OK\r\nContent-Length: 18446744073709551615')?.status).toBe(503);
    expect(parseResponseHead('HTTP/1.1 503 OK\r\nContent-Length: 18446744073709551616')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nX-A: \t padded\xa0 ')?.headers.get('x-a')).toBe('padded\xa0');
  });

  it('takes the versions Node’s parser takes (0.9, 1.0, 1.1, 2.0) and any reason phrase', () => {
    const status = (line: string) => parseResponseHead(`${line}\r\nX-A: 1`)?.status ?? null;
    expect(['HTTP/0.9 101', 'HTTP/1.0 101', 'HTTP/1.1 101', 'HTTP/2.0 101'].map(status)).toEqual([101, 101, 101, 101]);
    expect(['HTTP/1.2 101', 'HTTP/2.1 101', 'HTTP/3.0 101', 'HTTP/0.0 101', 'http/1.1 101'].map(status)).toEqual([null, null, null, null, null]);
    expect(['HTTP/1.1 101 ', 'HTTP/1.1 101 \x01 x', 'HTTP/1.1 099 x', 'HTTP/1.1 999'].map(status)).toEqual([101, 101, 99, 999]);
    expect(['HTTP/1.1  101', 'HTTP/1.1 101\tx', 'HTTP/1.1 1010', 'HTTP/1.1 10a', 'HTTP/1.1 99'].map(status)).toEqual([null, null, null, null, null]);
  });

  it('refuses a head still arriving as soon as Node’s parser would, line by line', () => {
    const soFar = (text: string, from = 0) => headSoFarInvalid(Buffer.from(text, 'latin1'), from);
    for (const ok of ['', 'H', 'HTTP/1.', 'HTTP/1.1 1', 'HTTP/1.1 101', 'HTTP/1.1 101 Switching\r', 'HTTP/1.1 101 OK\r\n', 'HTTP/1.1 101 OK\r\nUpgr', 'HTTP/1.1 101 OK\r\nUpgrade:', 'HTTP/1.1 101 OK\r\nUpgrade: web', 'HTTP/1.1 101 OK\r\nUpgrade: websocket\r', 'HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\r', 'HTTP/1.1 503 OK\r\nContent-Length: 12 ']) {
      expect(soFar(ok), JSON.stringify(ok)).toBe(false);
    }
    for (const bad of ['HTTP/1.2', 'HTTP/1.1 1x', 'HTTP/1.1 1010', 'HTTP/1.1 101 O\rK', 'HTTP/1.1 101 OK\r\nUp grade', 'HTTP/1.1 101 OK\r\n folded', 'HTTP/1.1 101 OK\r\n: nameless', 'HTTP/1.1 101 OK\r\nX-A: a\x01', 'HTTP/1.1 101 OK\r\nX-A\r', 'HTTP/1.1 101 OK\r\nno colon\r\n', 'HTTP/1.1 503 OK\r\nContent-Length: 1 2', 'HTTP/1.1 503 OK\r\nContent-Length: +1']) {
      expect(soFar(bad), JSON.stringify(bad)).toBe(true);
    }
    // From a later read, only the line it continues and the lines after it are read again.
    const head = 'HTTP/1.1 101 OK\r\nX-Bad Name: 1\r\nUpgrade: web';
    expect(soFar(head, head.indexOf('Upgrade') + 2)).toBe(false);
    expect(soFar(head, head.indexOf('Name'))).toBe(true);
  });

  it('finds the end of a head as it arrives: garbage and bare line feeds at once, headers past 16 KiB', () => {
    const ok = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02\n\n');
    expect(scanHead(ok, 0)).toBe(ok.indexOf('\r\n\r\n')); // LFs in the frame after the head are not the head's
    expect(scanHead(Buffer.from('HTT'), 0)).toBe('more');
    expect(scanHead(Buffer.from('SSH-2.0'), 0)).toBe('invalid');
    expect(scanHead(Buffer.from('HTTP/1.1 101 OK\nUpgrade: websocket\n\n'), 0)).toBe('invalid');
    // piece by piece: the blank line split across reads is found, scanning only the new bytes
    const pieces = Buffer.from(ok.subarray(0, ok.indexOf('\r\n\r\n') + 4));
    let found: number | string = 'more';
    for (let n = 1; n <= pieces.length && found === 'more'; n++) found = scanHead(pieces.subarray(0, n), n - 1);
    expect(found).toBe(pieces.length - 4);
    const status = 'HTTP/1.1 101 Switching Protocols\r\n';
    const headers = (n: number) => Buffer.from(status + `X-Big: ${'a'.repeat(n - 9)}\r\n`);
    expect(scanHead(headers(16 * 1024), 0)).toBe('more');
    expect(scanHead(headers(16 * 1024 + 1), 0)).toBe('invalid');
  });

  it('a 101 is an upgrade only with an Upgrade header and Connection: upgrade; 1xx are skipped', () => {
    const head = (text: string) => parseResponseHead(`HTTP/1.1 101 Switching Protocols\r\n${text}`)!;
    expect(isUpgrade(head('Upgrade: websocket\r\nConnection: keep-alive, Upgrade'))).toBe(true);
    expect(isUpgrade(head('Upgrade: websocket\r\nConnection: keep-alive'))).toBe(false);
    expect(isUpgrade(head('Connection: Upgrade'))).toBe(false);
    // An empty Upgrade is none to Node's parser, even twice (ws would see ", " and call it invalid).
    expect(isUpgrade(head('Upgrade: \t\r\nConnection: Upgrade'))).toBe(false);
    expect(isUpgrade(head('Upgrade:\r\nUpgrade: \r\nConnection: Upgrade'))).toBe(false);
    expect(isUpgrade(head('Upgrade:\r\nUpgrade: h2c\r\nConnection: Upgrade'))).toBe(true);
    // Connection's tokens are compared without the spaces and tabs around them (not other whitespace).
    expect(isUpgrade(head('Upgrade: websocket\r\nConnection: ,\tupgrade ,close'))).toBe(true);
    expect(isUpgrade(head('Upgrade: websocket\r\nConnection: upgrade\xa0'))).toBe(false);
    expect(isUpgrade(head('Upgrade: websocket\r\nConnection: x upgrade'))).toBe(false);
    expect([99, 100, 101, 103, 199, 200].map(isInformational)).toEqual([false, true, false, true, true, false]);
  });

  it('checks a 101 as ws does: ws’s messages, a code each', () => {
    const key = nextKey();
    const ok = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}`;
    const check = (text: string, protocols: string[] = [], deflate = false) => {
      const checked = checkSwitch(parseResponseHead(text)!, acceptFor(key), protocols, deflate);
      return 'error' in checked ? [checked.error.code, checked.error.message] : checked;
    };
    expect(check(ok)).toEqual({ protocol: '' });
    expect(check(`${ok}\r\nSec-WebSocket-Protocol: b`, ['a', 'b'])).toEqual({ protocol: 'b' });
    expect(check(ok.replace('websocket', 'h2c'))).toEqual(['invalid_upgrade_header', 'Invalid Upgrade header']);
    expect(check(ok.replace(acceptFor(key), acceptFor(nextKey())))).toEqual(['invalid_accept', 'Invalid Sec-WebSocket-Accept header']);
    // Before the request is written there is no expected accept: an empty header must not match it.
    const unsent = checkSwitch(parseResponseHead(ok.replace(acceptFor(key), ''))!, '', []);
    expect('error' in unsent && unsent.error.code).toBe('invalid_accept');
    expect(check(ok, ['a'])).toEqual(['invalid_subprotocol', 'Server sent no subprotocol']);
    expect(check(`${ok}\r\nSec-WebSocket-Protocol: c`, ['a'])).toEqual(['invalid_subprotocol', 'Server sent an invalid subprotocol']);
    expect(check(`${ok}\r\nSec-WebSocket-Protocol: c`)).toEqual(['invalid_subprotocol', 'Server sent a subprotocol but none was requested']);
    expect(check(`${ok}\r\nSec-WebSocket-Extensions: permessage-deflate`)).toEqual(['invalid_extension', 'Server sent a Sec-WebSocket-Extensions header but no extension was requested']);
  });

  it('with permessage-deflate offered (ws’s client), the extensions ws’s negotiation accepts and no other', () => {
    const key = nextKey();
    const ok = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\nSec-WebSocket-Extensions: `;
    const check = (extensions: string) => {
      const checked = checkSwitch(parseResponseHead(ok + extensions)!, acceptFor(key), [], true);
      return 'error' in checked ? [checked.error.code, checked.error.message] : 'ok';
    };
    expect(check('permessage-deflate')).toBe('ok');
    expect(check('permessage-deflate; client_max_window_bits=10; server_no_context_takeover')).toBe('ok');
    expect(check('permessage-deflate; client_max_window_bits=20')).toEqual(['invalid_extension', 'Invalid Sec-WebSocket-Extensions header']);
    expect(check('permessage-deflate; server_max_window_bits')).toEqual(['invalid_extension', 'Invalid Sec-WebSocket-Extensions header']);
    expect(check('permessage-deflate; =')).toEqual(['invalid_extension', 'Invalid Sec-WebSocket-Extensions header']);
    expect(check('x-webkit-deflate-frame')).toEqual(['invalid_extension', 'Server indicated an extension that was not requested']);
  });
});

/**
 * The same servers against both clients: wsrace's handshake and ws's (WSRACE_HANDSHAKE=ws) must
 * count every attempt the same way.
 */
describe('wsrace’s handshake and ws’s client count the same outcomes', () => {
  const saved = process.env.WSRACE_HANDSHAKE;
  afterEach(() => {
    if (saved === undefined) delete process.env.WSRACE_HANDSHAKE;
    else process.env.WSRACE_HANDSHAKE = saved;
  });

  /** Answers the client's close frame (the first frame it sends) with close 1000, then ends. */
  const closeOnClientClose = (socket: net.Socket) => socket.on('data', () => socket.end(closeFrame(1000)));

  type Handler = Parameters<typeof startRawServer>[0];
  async function both(handler: Handler, extra = '', session = 'session:\n  hold: 20ms\n  closeTimeout: 300ms\n'): Promise<[Summary, Summary]> {
    // Which client asked: ws's puts Host last, wsrace's the key.
    const lastHeaders: string[] = [];
    const server = await startRawServer((head, socket) => {
      lastHeaders.push(head.trimEnd().split('\r\n').pop()!.split(':')[0].toLowerCase());
      handler(head, socket);
    });
    const text = `name: handshake\ntarget:\n  url: ${server.url}\n  handshakeTimeout: 500ms\n${extra}load:\n  stages:\n    - { duration: 200ms, rate: 20 }\n${session}drainTimeout: 3s\n`;
    try {
      const out: Summary[] = [];
      for (const mode of ['wsrace', 'ws']) {
        process.env.WSRACE_HANDSHAKE = mode;
        const { summary } = await runScenario(parseScenarioText(text, 'handshake.yaml'), { outDir: mkdtempSync(join(tmpdir(), 'wsrace-handshake-')), workers: 1 });
        out.push(summary);
        const asked = new Set(lastHeaders.splice(0));
        if (asked.size > 0) expect(asked).toEqual(new Set([mode === 'ws' ? 'host' : 'sec-websocket-key'])); // none: nothing was dialled
      }
      return [out[0], out[1]];
    } finally {
      await server.close();
    }
  }
  const totals = (s: Summary) => ({ ...s.totals });

  it('a 101 in pieces, then a normal close', async () => {
    const [mine, theirs] = await both((head, socket) => {
      const bytes = Buffer.from(switching(acceptKey(head)));
      socket.write(bytes.subarray(0, 10));
      setTimeout(() => socket.write(bytes.subarray(10, 40)), 5);
      setTimeout(() => socket.write(bytes.subarray(40)), 10);
      closeOnClientClose(socket);
    });
    expect(mine.totals.closeCodes).toEqual({ '1000': 4 });
    expect(totals(mine)).toEqual(totals(theirs));
    expect(mine.upgradeMs.count).toBe(4);
  });

  it('a message in the same packet as the 101 reaches expect', async () => {
    const [mine, theirs] = await both(
      (head, socket) => {
        socket.write(Buffer.concat([Buffer.from(switching(acceptKey(head))), frame(0x1, Buffer.from('ready'))]));
        closeOnClientClose(socket);
      },
      '',
      "session:\n  hold: 10ms\n  expect: { match: 'ready', within: 300ms }\n",
    );
    expect(mine.totals.closeCodes).toEqual({ '1000': 4 });
    expect(mine.firstMessageMs.count).toBe(4);
    expect(totals(mine)).toEqual(totals(theirs));
  });

  it('100 Continue before the 101 is skipped', async () => {
    const [mine, theirs] = await both((head, socket) => {
      socket.write(`HTTP/1.1 100 Continue\r\n\r\n${switching(acceptKey(head))}`);
      closeOnClientClose(socket);
    });
    expect(mine.totals.closeCodes).toEqual({ '1000': 4 });
    expect(totals(mine)).toEqual(totals(theirs));
  });

  it('a 503 with a body, and a 101 with a wrong subprotocol', async () => {
    const [mine, theirs] = await both((_head, socket) => socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n\r\nnot ready'));
    expect(mine.totals.httpStatus).toEqual({ '503': 4 });
    expect(totals(mine)).toEqual(totals(theirs));
    const [p, q] = await both((head, socket) => socket.write(switching(acceptKey(head)).replace('\r\n\r\n', '\r\nSec-WebSocket-Protocol: other\r\n\r\n')), '  subprotocols: [chat]\n');
    expect(p.totals.errorCodes).toEqual({ invalid_subprotocol: 4 });
    expect(totals(p)).toEqual(totals(q));
  });

  it('an answer cut off mid-head is a reset; a head over 16 KiB is invalid HTTP', async () => {
    const [mine, theirs] = await both((_head, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'));
    expect(mine.totals.errors.reset).toBe(4);
    expect(totals(mine)).toEqual(totals(theirs));
    const [big, bigTheirs] = await both((_head, socket) => socket.write(`HTTP/1.1 101 Switching Protocols\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`));
    expect(big.totals.errorCodes).toEqual({ invalid_http: 4 });
    expect(totals(big)).toEqual(totals(bigTheirs));
  });

  it('line ends without CR are invalid HTTP; a 101 without Connection: upgrade is an ordinary response', async () => {
    const [lf, lfTheirs] = await both((head, socket) => socket.write(switching(acceptKey(head)).replaceAll('\r\n', '\n')));
    expect(lf.totals.errorCodes).toEqual({ invalid_http: 4 });
    expect(totals(lf)).toEqual(totals(lfTheirs));
    const [plain, plainTheirs] = await both((head, socket) => socket.write(switching(acceptKey(head)).replace('Connection: Upgrade\r\n', '')));
    expect(plain.totals.httpStatus).toEqual({ '101': 4 });
    expect(totals(plain)).toEqual(totals(plainTheirs));
  });

  it('ws’s client limits hold on an adopted socket: too many fragments, too many pings', async () => {
    const fragments = Buffer.concat([Buffer.from([0x01, 1, 0x61]), ...Array.from({ length: 20_000 }, () => Buffer.from([0x00, 1, 0x61]))]);
    // Without the limits both sessions would end 1000: the server answers the client's first frame with a close.
    const [frag, fragTheirs] = await both((head, socket) => {
      socket.write(Buffer.concat([Buffer.from(switching(acceptKey(head))), fragments]));
      closeOnClientClose(socket);
    });
    expect(frag.totals.closeCodes).toEqual({ '1006': 4 });
    expect(totals(frag)).toEqual(totals(fragTheirs));
    const pings = Buffer.concat(Array.from({ length: 200 }, () => frame(0x9, Buffer.alloc(0))));
    const [ping, pingTheirs] = await both((head, socket) => {
      socket.write(Buffer.concat([Buffer.from(switching(acceptKey(head))), pings]));
      closeOnClientClose(socket);
    });
    expect(ping.totals.closeCodes).toEqual({ '1006': 4 });
    expect(totals(ping)).toEqual(totals(pingTheirs));
  });

  it('a repeated subprotocol fails before any socket is dialled', async () => {
    const [mine, theirs] = await both((head, socket) => socket.write(switching(acceptKey(head))), '  subprotocols: [chat, chat]\n');
    expect(mine.totals.errorCodes).toEqual({ invalid_subprotocol: 4 });
    expect(mine.tcpConnectMs.count).toBe(0);
    expect(totals(mine)).toEqual(totals(theirs));
  });

  it('an extension the client did not offer is refused', async () => {
    const [mine, theirs] = await both((head, socket) => socket.write(switching(acceptKey(head)).replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n')));
    expect(mine.totals.errors.error).toBe(4);
    expect(totals(mine)).toEqual(totals(theirs));
  });

  it('the request the server sees: the scenario’s headers and subprotocols, one key, no extension offered', async () => {
    const heads: string[] = [];
    await both(
      (head, socket) => {
        heads.push(head);
        socket.write(switching(acceptKey(head)).replace('\r\n\r\n', '\r\nSec-WebSocket-Protocol: chat\r\n\r\n'));
        closeOnClientClose(socket);
      },
      '  headers: { X-Run: nightly }\n  subprotocols: [chat, v2]\n',
    );
    expect(heads).toHaveLength(8);
    for (const head of heads) {
      expect(head).toMatch(/^GET \/ws HTTP\/1\.1\r\n/);
      expect(head).toMatch(/\r\nX-Run: nightly\r\n/i);
      expect(head).toMatch(/\r\nSec-WebSocket-Protocol: chat,v2\r\n/i);
      expect(head.match(/sec-websocket-key: [A-Za-z0-9+/]{22}==/gi)).toHaveLength(1);
      expect(head).not.toMatch(/sec-websocket-extensions/i);
    }
    expect(new Set(heads.map((h) => /sec-websocket-key: (\S+)/i.exec(h)![1])).size).toBe(8);
  });
});
