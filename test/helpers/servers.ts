import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** What the test server does with the n-th upgrade request it receives (n from 0). */
export type Action =
  | { kind: 'accept' }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'http'; status: number }
  | { kind: 'hang' }
  | { kind: 'drop' }
  | { kind: 'reset' }
  | { kind: 'mute' }
  | { kind: 'closeAfter'; ms: number; code: number; reason: string }
  | { kind: 'delay'; ms: number };

export interface TestServer {
  url: string;
  port: number;
  /** How many upgrade requests got each action kind (key: kind, or close code / http status). */
  tally: Record<string, number>;
  upgrades: number;
  /** Resolves once tally[key] reaches `count` (an event, not a poll); rejects after `ms`. */
  waitFor(key: string, count: number, ms: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A deterministic WebSocket server on 127.0.0.1: behaviour(n) decides each upgrade, and the
 * tally says what it actually did, so tests compare wsrace's counts with the server's.
 */
export async function startTestServer(behaviour: (n: number) => Action, options: { path?: string; onUpgrade?: (req: http.IncomingMessage) => void } = {}): Promise<TestServer> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = http.createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const sockets = new Set<Socket>();
  const tally: Record<string, number> = {};
  const waiters = new Set<() => void>();
  const bump = (key: string) => {
    tally[key] = (tally[key] ?? 0) + 1;
    for (const check of waiters) check();
  };
  const waitFor = (key: string, count: number, ms: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if ((tally[key] ?? 0) < count) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`test server: ${key} reached ${tally[key] ?? 0}, not ${count}, in ${ms} ms`));
      }, ms);
      waiters.add(check);
      check();
    });
  let upgrades = 0;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    // After an upgrade the http server no longer listens for errors on the socket: a client that
    // gives up on a hung handshake may reset it, which is its right, not the test's failure.
    s.on('error', () => undefined);
  });
  server.on('upgrade', (req, socket, head) => {
    const n = upgrades++;
    options.onUpgrade?.(req);
    const action = behaviour(n);
    const accept = (then: (ws: WebSocket) => void) => wss.handleUpgrade(req, socket, head, then);
    switch (action.kind) {
      case 'accept':
        bump('accept');
        accept((ws) => {
          ws.on('message', (m) => ws.send(m.toString() === '{"type":"ping"}' ? '{"type":"pong"}' : m));
          // What the client said when it closed (1000 at the end of a hold, 1001 when interrupted).
          ws.on('close', (code) => bump(`client_close_${code}`));
        });
        break;
      case 'close':
        bump(`close_${action.code}`);
        accept((ws) => ws.close(action.code, action.reason));
        break;
      case 'http':
        bump(`http_${action.status}`);
        socket.end(`HTTP/1.1 ${action.status} ${http.STATUS_CODES[action.status]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        break;
      case 'hang':
        bump('hang');
        break;
      case 'drop':
        bump('drop');
        accept((ws) => setImmediate(() => (ws as unknown as { _socket: Socket })._socket.destroy()));
        break;
      case 'reset':
        bump('reset');
        (socket as Socket).resetAndDestroy();
        break;
      case 'mute':
        bump('mute');
        accept(() => undefined);
        break;
      case 'closeAfter':
        bump(`close_${action.code}`);
        accept((ws) => setTimeout(() => ws.close(action.code, action.reason), action.ms));
        break;
      case 'delay':
        bump('delay');
        setTimeout(() => accept(() => undefined), action.ms);
        break;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}${options.path ?? '/ws'}`,
    port,
    tally,
    waitFor,
    get upgrades() {
      return upgrades;
    },
    async close() {
      for (const ws of wss.clients) ws.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
