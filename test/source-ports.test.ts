import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';
import { SourcePorts, isPortTaken, parsePortRange, parseReservedPorts, sliceOf, sourcePortRange } from '../src/engine/source-ports.js';
import { startTestServer, type TestServer } from './helpers/servers.js';
import { readEvents } from './helpers/coldstart.js';

let server: TestServer | null = null;
const listeners: net.Server[] = [];
afterEach(async () => {
  await server?.close();
  server = null;
  for (const l of listeners.splice(0)) await new Promise((r) => l.close(r));
  delete process.env.WSRACE_LOCAL_PORTS;
});
const tmp = () => mkdtempSync(join(tmpdir(), 'wsrace-ports-'));

/** A port free on `host` now, found by listening on port 0 (and closing again). */
async function freePort(host: string): Promise<number> {
  const l = net.createServer();
  await new Promise<void>((r) => l.listen(0, host, r));
  const port = (l.address() as net.AddressInfo).port;
  await new Promise((r) => l.close(r));
  return port;
}

/** Runs `count` attempts at 100/s from `source`, each held `hold`, on `workers` threads; returns the events. */
async function run(source: string, count: number, hold = '0ms', workers = 1) {
  const text = `name: ports\ntarget:\n  url: ${server!.url}\n  localAddresses: ["${source}"]\nload:\n  stages: [{ duration: ${count * 10}ms, rate: 100 }]\nsession:\n  hold: ${hold}\n`;
  const outDir = tmp();
  const { summary } = await runScenario(parseScenarioText(text, 'ports.yaml'), { outDir, workers });
  return { summary, events: readEvents(outDir).sort((a, b) => a.i - b.i) };
}

describe('source ports (picked by wsrace when dialling from a source address)', () => {
  it('parses the kernel files and the override', () => {
    expect(parsePortRange('32768\t60999\n')).toEqual({ low: 32768, high: 60999 });
    expect(parsePortRange('40000-40999')).toEqual({ low: 40000, high: 40999 });
    for (const bad of ['', 'abc', '0-5', '5-4', '60000-70000', '1-2-3']) expect(parsePortRange(bad)).toBeNull();
    expect(parsePortRange('80-90', 1024)).toBeNull();
    expect(parseReservedPorts('8080,9000-9010\n')).toEqual([
      { low: 8080, high: 8080 },
      { low: 9000, high: 9010 },
    ]);
    expect(parseReservedPorts('\n')).toEqual([]);
    expect(sourcePortRange({ WSRACE_LOCAL_PORTS: 'kernel' }, 'linux')).toBeNull();
    expect(sourcePortRange({ WSRACE_LOCAL_PORTS: '41000-41009' }, 'darwin')).toEqual({ low: 41000, high: 41009 });
    expect(sourcePortRange({}, 'darwin')).toBeNull();
    for (const bad of ['yes', '80-90', '50000']) expect(() => sourcePortRange({ WSRACE_LOCAL_PORTS: bad }, 'linux')).toThrow(`WSRACE_LOCAL_PORTS=${bad}: expected "kernel" or a port range "low-high" within 1024-65535`);
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    expect(sourcePortRange({}, 'linux')).toEqual({ low, high });
    const err = (code: string, syscall: string) => Object.assign(new Error('x'), { code, syscall });
    expect(isPortTaken(err('EADDRINUSE', 'bind'))).toBe(true);
    expect(isPortTaken(err('EADDRNOTAVAIL', 'connect'))).toBe(true);
    // A source address the host does not have fails bind with EADDRNOTAVAIL: no port would help.
    expect(isPortTaken(err('EADDRNOTAVAIL', 'bind'))).toBe(false);
    expect(isPortTaken(err('ECONNREFUSED', 'connect'))).toBe(false);
  });

  it('walks the range with a cursor per address, skipping reserved ports', () => {
    const ports = new SourcePorts({ low: 100, high: 103 }, [{ low: 102, high: 102 }], () => 0.5);
    // From a random offset (here the middle: 102, reserved, so 103), then round the range.
    expect([1, 2, 3, 4].map(() => ports.next('127.0.0.2'))).toEqual([103, 100, 101, 103]);
    expect(ports.next('127.0.0.3')).toBe(103);
    expect(new SourcePorts({ low: 7, high: 8 }, [{ low: 1, high: 10 }]).next('a')).toBe(0);
    expect(new SourcePorts(null).next('a')).toBe(0);
    // A taken port sends the cursor to a random place (here the bottom), not to the ports after it.
    const jumpy = new SourcePorts({ low: 100, high: 199 }, [], (() => { const r = [0.5, 0]; return () => r.shift() ?? 0; })());
    expect([jumpy.next('a'), jumpy.next('a')]).toEqual([150, 151]);
    jumpy.taken('a');
    expect(jumpy.next('a')).toBe(100);
  });

  it('gives each stripe (worker, shard) a slice of its own', () => {
    const r = { low: 100, high: 199 };
    expect([0, 1, 2].map((k) => sliceOf(r, k, 3))).toEqual([
      { low: 100, high: 132 },
      { low: 133, high: 165 },
      { low: 166, high: 199 },
    ]);
    expect(sliceOf(r, 0, 1)).toEqual(r);
    expect(sliceOf({ low: 5000, high: 5001 }, 1, 3)).toEqual({ low: 5000, high: 5001 }); // fewer ports than slices: all of them
  });

  it('dials from the ports it picks, one after another, each worker in its half of the range', async () => {
    const seen: number[] = [];
    server = await startTestServer(() => ({ kind: 'accept' }), { onUpgrade: (req) => seen.push(req.socket.remotePort!) });
    // Above the kernel's ephemeral range (32768-60999 here), where no test server listens.
    const low = 61000 + (process.pid % 70) * 64;
    process.env.WSRACE_LOCAL_PORTS = `${low}-${low + 63}`;
    const { summary, events } = await run('127.0.0.61', 24, '0ms', 2);
    expect(summary.totals.closeCodes['1000']).toBe(24);
    for (const [w, from, to] of [
      [0, low, low + 31],
      [1, low + 32, low + 63],
    ]) {
      const ports = events.filter((e) => e.w === w).map((e) => e.lport as number);
      expect(ports).toHaveLength(12);
      // Consecutive in the order of starts (wrapping from the top of the slice to its bottom).
      for (let k = 1; k < ports.length; k++) expect(ports[k]).toBe(ports[k - 1] === to ? from : ports[k - 1] + 1);
      expect(ports.every((p) => p >= from && p <= to)).toBe(true);
    }
    expect(events.some((e) => e.portTaken !== undefined)).toBe(false);
    // The ports recorded are the ones the server saw the sockets come from.
    expect(events.map((e) => e.lport).sort()).toEqual(seen.sort());
  });

  it('a bad WSRACE_LOCAL_PORTS is an input error that names it', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    process.env.WSRACE_LOCAL_PORTS = '80-90';
    await expect(run('127.0.0.61', 1)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('WSRACE_LOCAL_PORTS=80-90: expected') });
  });

  it('a picked port with a listener on it: the attempt dials again with the kernel\'s pick', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    const port = await freePort('127.0.0.62');
    const listener = net.createServer();
    listeners.push(listener);
    await new Promise<void>((r) => listener.listen(port, '127.0.0.62', r));
    process.env.WSRACE_LOCAL_PORTS = `${port}-${port}`; // the only port to pick is taken (EADDRINUSE at bind)
    const { summary, events } = await run('127.0.0.62', 5);
    expect(summary.totals.closeCodes['1000']).toBe(5);
    expect(summary.totals.errorCodes).toEqual({});
    expect(events.every((e) => e.lport !== port && e.outcome === 'close' && e.portTaken === port)).toBe(true);
  });

  it('wss:// too: a taken port is dialled again through TLS, with the kernel\'s pick', async () => {
    const dir = tmp();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const tlsServer = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
    const wss = new WebSocketServer({ server: tlsServer, perMessageDeflate: false });
    listeners.push(tlsServer);
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
    const port = await freePort('127.0.0.64');
    const taken = net.createServer();
    listeners.push(taken);
    await new Promise<void>((r) => taken.listen(port, '127.0.0.64', r));
    process.env.WSRACE_LOCAL_PORTS = `${port}-${port}`;
    const url = `wss://127.0.0.1:${(tlsServer.address() as net.AddressInfo).port}/ws`;
    const text = `name: ports-tls\ntarget:\n  url: ${url}\n  tls: { insecure: true }\n  localAddresses: ["127.0.0.64"]\nload:\n  stages: [{ duration: 40ms, rate: 100 }]\nsession:\n  hold: 0ms\n`;
    const { summary } = await runScenario(parseScenarioText(text, 'ports-tls.yaml'), { outDir: dir, workers: 1 });
    for (const c of wss.clients) c.terminate();
    expect(summary.totals.closeCodes).toEqual({ '1000': 4 });
    expect(summary.tlsHandshakeMs.count).toBe(4);
    const events = readEvents(dir);
    expect(events.every((e) => e.portTaken === port && e.lport !== port)).toBe(true);
  });

  it('a picked port still open to the same destination: the attempt dials again with the kernel\'s pick', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    const port = await freePort('127.0.0.63');
    process.env.WSRACE_LOCAL_PORTS = `${port}-${port}`;
    // Each socket is held 300 ms and the next starts 10 ms later: the one port is busy with the
    // same 4-tuple (EADDRNOTAVAIL at connect) for every attempt but the first.
    const { summary, events } = await run('127.0.0.63', 3, '300ms');
    expect(summary.totals.closeCodes['1000']).toBe(3);
    expect(events.map((e) => e.lport === port)).toEqual([true, false, false]);
    expect(events.map((e) => e.portTaken)).toEqual([undefined, port, port]);
  });
});
