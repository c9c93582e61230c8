import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { now } from '../../src/util/clock.js';

/** One WebSocket connection as the backend saw it; times are epoch ms on wsrace's clock (util/clock.ts). */
export interface BackendConn {
  /** The client's own port, from the proxy's X-Client-Port header (NaN without one): wsrace's `lport`. */
  clientPort: number;
  openAt: number;
  closeAt: number | null;
  /** The close code as the backend saw it: 1006 when the proxy cut the connection without a close frame. */
  code: number | null;
  /** Stream pings received (their seq, in order); each is answered at once, so these are the pongs sent too. */
  pings: number[];
  /** When each of those pings came (epoch ms), index for index. */
  pingAt: number[];
}

export interface WsBackend {
  name: string;
  port: number;
  conns: BackendConn[];
  /** Resolves once `count(conns)` reaches `n` (checked on every open and close: an event, not a poll); rejects after `ms`. */
  waitFor(what: string, count: (conns: BackendConn[]) => number, n: number, ms: number): Promise<void>;
  close(): Promise<void>;
}

/** The seq of a stream ping (`{"type":"ping","seq":N,…}`), else null. */
function pingSeq(text: string): number | null {
  try {
    const m = JSON.parse(text) as { type?: unknown; seq?: unknown };
    return m.type === 'ping' && typeof m.seq === 'number' ? m.seq : null;
  } catch {
    return null;
  }
}

/**
 * A backend revision behind a reverse proxy on 127.0.0.1: it records every WebSocket connection
 * (whose client it is, when it opened and closed and how) and answers a stream's
 * `{"type":"ping","seq":N,…}` with `{"type":"pong","seq":N}` at once, so a test can hold wsrace's
 * disconnects, reconnects and lost messages against what the backend saw.
 */
export async function startWsBackend(name: string): Promise<WsBackend> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const sockets = new Set<Socket>();
  const conns: BackendConn[] = [];
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const check of [...waiters]) check();
  };
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    // A cut connection may reset: the proxy's right, not the test's failure.
    s.on('error', () => undefined);
  });
  server.on('upgrade', (req, socket, head) => {
    const clientPort = Number(req.headers['x-client-port']);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: BackendConn = { clientPort, openAt: now(), closeAt: null, code: null, pings: [], pingAt: [] };
      conns.push(conn);
      ws.on('message', (data) => {
        const seq = pingSeq(data.toString());
        if (seq === null) return;
        conn.pings.push(seq);
        conn.pingAt.push(now());
        ws.send(`{"type":"pong","seq":${seq}}`);
      });
      ws.on('close', (code) => {
        conn.closeAt = now();
        conn.code = code;
        changed();
      });
      changed();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const waitFor = (what: string, count: (c: BackendConn[]) => number, n: number, ms: number) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (count(conns) < n) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`backend ${name}: ${what} reached ${count(conns)}, not ${n}, in ${ms} ms`));
      }, ms);
      waiters.add(check);
      check();
    });
  return {
    name,
    port,
    conns,
    waitFor,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
