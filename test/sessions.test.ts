import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseScenarioText } from '../src/scenario/load.js';
import { connectionSettings, runScenario } from '../src/run/run.js';
import { compileTemplates } from '../src/engine/templates.js';
import { jsonContains } from '../src/session/json-subset.js';
import { compileTemplate } from '../src/session/template.js';
import { atMost, watchLoop } from './helpers/slack.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'wsrace-sess-'));
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** A scripted server: on connection it runs `script`, and records what each client sent. */
async function scriptedServer(script: (ws: WebSocket, n: number, req: import('node:http').IncomingMessage) => void) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, handleProtocols: (p) => (p.has('jwt-auth') ? 'jwt-auth' : false) });
  await new Promise((r) => wss.once('listening', r));
  let n = 0;
  wss.on('connection', (ws, req) => script(ws, n++, req));
  closers.push(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  });
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
}

const run = (url: string, session: string, extra = '', dir = tmp()) =>
  runScenario(parseScenarioText(`name: sess\ntarget:\n  url: ${url}\n${extra}load:\n  stages: [{ duration: 400ms, rate: 25 }]\nsession:\n${session}`, join(dir, 'sess.yaml')), { outDir: join(dir, 'out'), workers: 1 });

describe('scripted sessions', () => {
  it('send, expect (regex and JSON subset), sleep, ping, close: each step timed', async () => {
    const url = await scriptedServer((ws) => {
      ws.send(JSON.stringify({ type: 'connection_established', data: { id: 1 } }));
      ws.on('message', (m) => {
        if (JSON.parse(m.toString()).type === 'user_message') setTimeout(() => ws.send('{"type":"agent_started","run":1}'), 30);
      });
    });
    const loop = watchLoop();
    const { summary } = await run(
      url,
      `  hold: 0ms\n  steps:\n    - expect: { name: hello, match: 'connection_established', within: 1s }\n    - sleep: 50ms\n    - ping: { name: rtt }\n    - send: '{"type":"user_message"}'\n    - expect: { name: started, json: { type: agent_started }, within: 1s }\n    - close: { code: 4000, reason: bye }\n`,
    );
    loop.stop();
    expect(summary.totals.attempted).toBe(10);
    expect(summary.totals.closeCodes).toEqual({ '4000': 10 });
    const steps = summary.steps!;
    expect(Object.keys(steps)).toEqual(['hello', 'rtt', 'started']);
    expect(steps.hello).toMatchObject({ kind: 'expect', passed: 10, timeouts: 0, closed: {} });
    expect(steps.rtt).toMatchObject({ kind: 'ping', passed: 10 });
    expect(steps.started.passed).toBe(10);
    // agent_started comes 30 ms after the user_message: from the step's start ≥ 30 ms, from open ≥ 80 (sleep + 30).
    expect(steps.started.fromStartMs.min!).toBeGreaterThanOrEqual(29);
    expect(steps.started.fromOpenMs.min!).toBeGreaterThanOrEqual(79);
    // A ping's round trip: the server (this thread) answers, wsrace reads the pong.
    expect(steps.rtt.fromStartMs.max!).toBeLessThanOrEqual(atMost(0, summary, { events: 1, fromSchedule: false, extraMs: loop.maxWaitMs() }));
  });

  it('a step that times out is counted per step; a 1011 during a step is its close code, not a timeout', async () => {
    // The 1011 follows the first message at once, so it lands during the second step. wsrace counts
    // it when the socket has closed, after the closing handshake the server (this thread) must
    // answer: exact as long as that thread never stalls for the step's whole `within`.
    const url = await scriptedServer((ws, n) => {
      ws.send('{"type":"connection_established"}');
      if (n % 2 === 1) ws.close(1011, 'Service not ready: bridge');
    });
    const loop = watchLoop();
    const { summary, outDir } = await run(url, `  hold: 0ms\n  steps:\n    - expect: { name: established, json: { type: connection_established } }\n    - expect: { name: reply, match: never-sent, within: 1s }\n`);
    loop.stop();
    expect(loop.maxWaitMs(), 'the test server stalled for a whole step').toBeLessThan(1000);
    expect(summary.totals.errors.expect_timeout).toBe(5);
    expect(summary.totals.closeCodes).toEqual({ '1011': 5 });
    expect(summary.steps!.established).toMatchObject({ passed: 10, timeouts: 0 });
    expect(summary.steps!.reply).toMatchObject({ passed: 0, timeouts: 5, closed: { '1011': 5 } });
    const events = readFileSync(join(outDir, 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.step === 'reply' && e.stepFail === 'closed').every((e) => e.code === 1011)).toBe(true);
  });

  it('per-connection templates reach the server: ${conn}, ${user.x} in URL, headers, subprotocols and messages', async () => {
    const seen: { url: string; auth: string; proto: string; msg: string; conn: string }[] = [];
    const url = await scriptedServer((ws, _n, req) => {
      ws.once('message', (m) => seen.push({ url: req.url!, auth: String(req.headers.authorization), proto: String(req.headers['sec-websocket-protocol']), msg: m.toString(), conn: String(req.headers['x-conn']) }));
    });
    const dir = tmp();
    writeFileSync(join(dir, 'users.csv'), 'id,token\nalice,tok-a\nbob,tok-b\n');
    await run(
      `${url}?user=\${user.id}`,
      `  users: users.csv\n  hold: 100ms\n  steps:\n    - send: 'hello from \${conn} as \${user.id}'\n`,
      `  headers: { Authorization: "Bearer \${user.token}", X-Conn: "\${conn}" }\n  subprotocols: [jwt-auth, "jwt.\${user.token}"]\n`,
      dir,
    );
    expect(seen).toHaveLength(10);
    for (const s of seen) {
      const conn = Number(s.conn);
      const user = conn % 2 === 0 ? { id: 'alice', token: 'tok-a' } : { id: 'bob', token: 'tok-b' };
      expect(s).toEqual({ url: `/ws?user=${user.id}`, auth: `Bearer ${user.token}`, proto: `jwt-auth,jwt.${user.token}`, msg: `hello from ${conn} as ${user.id}`, conn: String(conn) });
    }
    expect(new Set(seen.map((s) => s.conn)).size).toBe(10);
    expect(compileTemplate('${uuid}')({ conn: 0, worker: 0, user: null, env: {} })).toMatch(/^[0-9a-f-]{36}$/);
    expect(compileTemplate('${env.HOME_X}!')({ conn: 0, worker: 0, user: null, env: { HOME_X: 'h' } })).toBe('h!');
    expect(jsonContains({ type: 'a', data: { x: 1, y: 2 } }, { data: { x: 1 } })).toBe(true);
    expect(jsonContains({ type: 'a' }, { type: 'b' })).toBe(false);
  });

  it('a template that would come out empty on every connection is an input error, before anything runs', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'users.csv'), 'id,token\nalice,tok-a\n');
    const settings = (extra: string, session = '') =>
      connectionSettings(parseScenarioText(`name: t\ntarget:\n  url: ws://127.0.0.1:1/ws\n${extra}load:\n  stages: [{ duration: 1s, rate: 1 }]\n${session}`, join(dir, 's.yaml')).scenario, dir);
    expect(() => settings(`  headers: { Authorization: "Bearer \${user.tokn}" }\n`, 'session:\n  users: users.csv\n')).toThrow('target.headers.Authorization: ${user.tokn}: user 1 of 1 has no field "tokn" (it has id, token)');
    expect(() => settings(`  subprotocols: ["jwt.\${user.token}"]\n`)).toThrow('target.subprotocols[0]: ${user.token} needs session.users (a CSV with a header row, or a JSON list of users)');
    delete process.env.WSRACE_TEST_UNSET;
    expect(() => settings('', 'session:\n  steps:\n    - send: "v=${env.WSRACE_TEST_UNSET}"\n')).toThrow('session.steps[0].send: ${env.WSRACE_TEST_UNSET}: environment variable WSRACE_TEST_UNSET is not set (the template reads it on every connection)');
    expect(settings(`  headers: { Authorization: "Bearer \${user.token}" }\n`, 'session:\n  users: users.csv\n').users).toEqual([{ id: 'alice', token: 'tok-a' }]);
    // What the templates become with every user: a value no client can send fails every attempt of that user.
    writeFileSync(join(dir, 'users.csv'), 'id,token\nalice,tok-a\nbob,tök✓\n');
    expect(() => settings(`  headers: { Authorization: "Bearer \${user.token}" }\n`, 'session:\n  users: users.csv\n')).toThrow('target.headers.Authorization with user 2 of 2: expected a header value without control characters or characters beyond Latin-1 (encode them), found "Bearer tök✓"');
    expect(() => settings(`  headers: { Bad Name: x }\n`)).toThrow(/^target\.headers\.Bad Name: expected a header name of letters, digits/);
    expect(() => settings(`  subprotocols: ["a b"]\n`)).toThrow('target.subprotocols[0]: expected a subprotocol token: letters, digits and !#$%&\'*+-.^_`|~, no spaces or commas, found "a b"');
    process.env.WSRACE_TEST_FRAG = '#a';
    try {
      expect(() => connectionSettings(parseScenarioText(`name: t\ntarget:\n  url: "ws://127.0.0.1:1/ws?x=\${env.WSRACE_TEST_FRAG}"\nload:\n  stages: [{ duration: 1s, rate: 1 }]\n`, join(dir, 's.yaml')).scenario, dir)).toThrow('target.url: expected no # in the URL once filled in (a fragment; encode it as %23), found "ws://127.0.0.1:1/ws?x=#a"');
    } finally {
      delete process.env.WSRACE_TEST_FRAG;
    }
  });
});

describe('TLS', () => {
  it('wss against a local TLS server: the TLS handshake is its own part; the CA is checked', async () => {
    const dir = tmp();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
    const wss = new WebSocketServer({ server, perMessageDeflate: false });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
    const resumed: boolean[] = [];
    server.on('secureConnection', (socket: TLSSocket) => resumed.push(socket.isSessionReused()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => server.close(r));
    });
    const url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
    const ok = await run(url, `  hold: 20ms\n`, `  tls: { ca: cert.pem }\n`, dir);
    expect(ok.summary.totals.closeCodes).toEqual({ '1000': 10 });
    expect(ok.summary.tlsHandshakeMs.count).toBe(10);
    expect(ok.summary.tlsHandshakeMs.min!).toBeGreaterThan(0);
    expect(ok.summary.tcpConnectMs.count).toBe(10);
    // upgrade is timed from TLS established: the three parts add up to no more than the handshake.
    expect(ok.summary.tlsHandshakeMs.p50! + ok.summary.upgradeMs.p50!).toBeLessThan(ok.summary.handshakeMs.max! + 1);
    const insecure = await run(url, `  hold: 20ms\n`, `  tls: { insecure: true }\n`);
    expect(insecure.summary.totals.closeCodes).toEqual({ '1000': 10 });
    // ws's client (permessage-deflate offered) dials with the same options: it gets the CA only through the shared context.
    const viaWs = await run(url, `  hold: 20ms\n`, `  perMessageDeflate: true\n  tls: { ca: cert.pem }\n`, dir);
    expect(viaWs.summary.totals.closeCodes).toEqual({ '1000': 10 });
    // The scheme decides TLS as the URL parser reads it: WSS:// is wss://.
    const upper = await run(url.replace('wss://', 'WSS://'), `  hold: 20ms\n`, `  tls: { ca: cert.pem }\n`, dir);
    expect(upper.summary.totals.closeCodes).toEqual({ '1000': 10 });
    // One SecureContext per worker (tls-context.ts), and still a full handshake for every attempt: none resumed.
    expect(resumed).toEqual(Array(40).fill(false));
    const unchecked = await run(url, `  hold: 20ms\n`);
    expect(unchecked.summary.totals.errorCodes).toEqual({ DEPTH_ZERO_SELF_SIGNED_CERT: 10 });
    await expect(run(url, `  hold: 20ms\n`, `  tls: { ca: key.pem }\n`, dir)).rejects.toThrow('target.tls.ca: key.pem holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)');
  });

  it('a worker makes one SecureContext for its wss:// dials; rejectUnauthorized is set only by target.tls', () => {
    const dir = tmp();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const settings = (url: string, tls = '') => connectionSettings(parseScenarioText(`name: t\ntarget:\n  url: ${url}\n${tls}load:\n  stages: [{ duration: 1s, rate: 1 }]\n`, join(dir, 's.yaml')).scenario, dir);
    const withCa = compileTemplates(settings('wss://127.0.0.1:1/ws', `  tls: { ca: cert.pem, servername: localhost }\n`)).tlsOptions!;
    expect(withCa.secureContext?.context).toBeDefined(); // the native SSL_CTX
    expect(withCa).toEqual({ secureContext: withCa.secureContext, rejectUnauthorized: true, servername: 'localhost' });
    // Without target.tls Node's default applies (NODE_TLS_REJECT_UNAUTHORIZED included).
    expect(Object.keys(compileTemplates(settings('wss://127.0.0.1:1/ws')).tlsOptions!)).toEqual(['secureContext']);
    expect(compileTemplates(settings('WSS://127.0.0.1:1/ws')).tlsOptions).not.toBeNull();
    expect(compileTemplates(settings('wss://127.0.0.1:1/ws', `  tls: { insecure: true }\n`)).tlsOptions).toMatchObject({ rejectUnauthorized: false });
    expect(compileTemplates(settings('ws://127.0.0.1:1/ws')).tlsOptions).toBeNull();
  });
});
