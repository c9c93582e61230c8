import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import * as ws from 'ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectQuietly, QuietEndSocket, quietReceiverEnds } from '../src/engine/quiet-end.js';
import { startEchoServerProcess } from './helpers/echo-server-process.js';
import { runProbe } from './helpers/probe.js';
import { RolloutSimulator } from '../src/sim/index.js';

const waitFor = (emitter: NodeJS.EventEmitter, event: string) => once(emitter, event, { signal: AbortSignal.timeout(5000) });

/** Counts the end() calls with no arguments that reach net.Socket's on a socket that has ended and finished (or been destroyed): the ones Node answers by building an error. */
function spyOnMootSocketEnds() {
  const socketEnd = net.Socket.prototype.end;
  let calls = 0;
  net.Socket.prototype.end = function (this: net.Socket, ...args: unknown[]) {
    if (args.length === 0 && this.writableEnded && (this.writableFinished || this.destroyed)) calls++;
    return (socketEnd as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof socketEnd;
  return { calls: () => calls, restore: () => void (net.Socket.prototype.end = socketEnd) };
}

// In its own process, so only the client's receivers and sockets are counted here.
let server: Awaited<ReturnType<typeof startEchoServerProcess>>;
let url: string;
beforeAll(async () => {
  server = await startEchoServerProcess();
  url = server.url;
});
afterAll(() => server.close());

/** `n` connections in turn through ws's client: open, close 1000, wait for ws's 'close' (after the socket's). */
async function openAndClose(n: number, createConnection: (o: net.NetConnectOpts) => net.Socket): Promise<number[]> {
  const codes: number[] = [];
  for (let k = 0; k < n; k++) {
    const client = new WebSocket(url, { perMessageDeflate: false, createConnection: createConnection as never });
    try {
      await waitFor(client, 'open');
      client.close(1000);
      const [code] = (await waitFor(client, 'close')) as [number];
      codes.push(code);
    } finally {
      client.terminate(); // a no-op once closed; cuts a client a failed wait left behind
    }
  }
  return codes;
}

describe('ws’s client with quiet ends', () => {
  // How many redundant end() calls ws makes, and that none reach Node's with quiet ends, guards
  // speed and reads ws's internals: bench/guards.mjs (npm run bench:guards).
  it('with a QuietEndSocket and quiet receivers every close is still 1000', async () => {
    expect(quietReceiverEnds()).toBe(true);
    expect(quietReceiverEnds()).toBe(true); // idempotent
    expect(await openAndClose(10, connectQuietly)).toEqual(Array(10).fill(1000));
  });
});

describe('every other end() is Node’s own', () => {
  /** A socket connected to a fresh loopback server, and the server's side of it. */
  async function connectedPair(connect: (o: net.NetConnectOpts) => net.Socket, peer: net.Server) {
    const accepted = waitFor(peer, 'connection');
    const socket = connect({ host: '127.0.0.1', port: (peer.address() as net.AddressInfo).port });
    socket.on('error', () => undefined);
    const [[remote]] = (await Promise.all([accepted, waitFor(socket, 'connect')])) as [[net.Socket], unknown];
    remote.resume();
    return { socket, remote };
  }

  it('a QuietEndSocket sends its FIN on end(); a second end() after finish stops there, one with a callback still gets the error', async () => {
    const peer = net.createServer();
    const open: net.Socket[] = [];
    peer.listen(0, '127.0.0.1');
    await waitFor(peer, 'listening');
    try {
      // The same steps on a plain net.Socket, then on a QuietEndSocket: only the plain one's second end() reaches net.Socket's.
      const seen: number[] = [];
      for (const connect of [(o: net.NetConnectOpts) => net.connect(o), connectQuietly]) {
        const { socket, remote } = await connectedPair(connect, peer);
        open.push(socket, remote);
        const remoteEnded = waitFor(remote, 'end');
        const finished = waitFor(socket, 'finish');
        expect(socket.end()).toBe(socket);
        await Promise.all([remoteEnded, finished]);
        const spy = spyOnMootSocketEnds();
        try {
          expect(socket.end()).toBe(socket);
        } finally {
          spy.restore();
        }
        seen.push(spy.calls());
        const err = await new Promise<Error | null | undefined>((resolve) => socket.end(resolve as () => void)); // Node passes the error; its types say no argument
        expect((err as NodeJS.ErrnoException | null)?.code).toBe('ERR_STREAM_ALREADY_FINISHED');
      }
      expect(seen).toEqual([1, 0]);
      expect(open[2]).toBeInstanceOf(QuietEndSocket);
    } finally {
      for (const s of open) s.destroy();
      peer.close();
    }
  });

  it('a quiet receiver ends and finishes as before; end(cb) after finish still answers with the error', async () => {
    expect(quietReceiverEnds()).toBe(true);
    const Receiver = (ws as unknown as { Receiver: new (o: object) => Writable }).Receiver;
    const receiver = new Receiver({});
    const finished = waitFor(receiver, 'finish');
    expect(receiver.end()).toBe(receiver);
    await finished;
    expect(receiver.end()).toBe(receiver);
    const err = await new Promise<Error | null | undefined>((resolve) => receiver.end(resolve));
    expect((err as NodeJS.ErrnoException | null)?.code).toBe('ERR_STREAM_ALREADY_FINISHED');
  });

  it('the worker entry makes its thread\'s receivers quiet when it runs a task; importing the engine or the library does not (in a fresh process: this one is already patched)', () => {
    // A task with an empty schedule: ready, go, done at once.
    const probe = `
      import { MessageChannel } from 'node:worker_threads';
      const ws = await import('ws');
      const quiet = () => Object.hasOwn(ws.Receiver.prototype, 'end');
      const seen = [quiet()];
      await import('./src/index.ts');
      await import('./src/engine/worker-run.ts');
      const { default: runWorker } = await import('./src/engine/worker.ts');
      seen.push(quiet());
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (msg) => { if (msg.type === 'ready') port1.postMessage({ type: 'go', scheduleStart: Date.now() }); });
      const connection = { url: 'ws://127.0.0.1:9/', headers: {}, subprotocols: [], handshakeTimeoutMs: 1000, perMessageDeflate: false, maxPayload: 1048576, holdMs: 0, send: [], expect: null, closeTimeoutMs: 1000, servedAfterMs: 1000, localAddresses: [], sourcePorts: null, steps: null, users: null, reconnect: null, tls: null, stream: null, serverSeq: null };
      const task = { workerIndex: 0, workerCount: 1, stripe: { index: 0, count: 1 }, stages: [], capacity: 1, drainTimeoutMs: 0, tickMs: 1000, connection, awaitSeal: false, warmup: 0, spinBudget: 0, nice: null, population: null, port: port2 };
      const done = await runWorker(task);
      seen.push(quiet());
      port1.close();
      console.log(JSON.stringify({ seen, done }));
    `;
    const out = runProbe(probe);
    expect(JSON.parse(out.trim())).toEqual({ seen: [false, false, true], done: { worker: 0 } });
  });
});

describe('the simulator’s server sockets', () => {
  /**
   * `n` connections to `url` in turn (quiet client sockets: only the server's side can reach
   * net.Socket's end()), each closed 1000 by the client and awaited on both sides (ws's server
   * makes its end() calls before its own 'close'); the moot end() calls that reached net.Socket's.
   */
  async function mootServerEnds(wsUrl: string, n: number, serverSide: () => NodeJS.EventEmitter): Promise<{ moot: number; codes: number[] }> {
    const spy = spyOnMootSocketEnds();
    const codes: number[] = [];
    try {
      for (let k = 0; k < n; k++) {
        const client = new WebSocket(wsUrl, { perMessageDeflate: false, createConnection: connectQuietly as never });
        try {
          await waitFor(client, 'open');
          const serverClosed = waitFor(serverSide(), 'close');
          client.close(1000);
          codes.push(((await waitFor(client, 'close')) as [number])[0]);
          await serverClosed;
        } finally {
          client.terminate();
        }
      }
    } finally {
      spy.restore();
    }
    return { moot: spy.calls(), codes };
  }

  it('a plain ws server makes moot end() calls on its sockets; the simulator\'s make none, and every close is still 1000', async () => {
    expect(quietReceiverEnds()).toBe(true);
    const plain = new ws.WebSocketServer({ host: '127.0.0.1', port: 0 });
    await waitFor(plain, 'listening');
    let last: NodeJS.EventEmitter | null = null;
    plain.on('connection', (socket) => (last = socket));
    let shipped: { moot: number; codes: number[] };
    try {
      shipped = await mootServerEnds(`ws://127.0.0.1:${(plain.address() as net.AddressInfo).port}/`, 10, () => last!);
    } finally {
      plain.close();
    }
    expect(shipped.codes).toEqual(Array(10).fill(1000));
    expect(shipped.moot, 'ws as shipped calls end() on its ended server sockets: see util/quiet-end.ts').toBeGreaterThan(0);
    // Revision A of a rollout serves, ready, from the start (B far away).
    const sim = await RolloutSimulator.start({ profile: 'rollout', port: 0, rolloutAtMs: 1e9, log: null });
    try {
      const quiet = await mootServerEnds(sim.url, 10, () => [...sim.a.upgrades.open].at(-1)!);
      expect(quiet).toEqual({ moot: 0, codes: Array(10).fill(1000) });
    } finally {
      await sim.close();
    }
  });
});
