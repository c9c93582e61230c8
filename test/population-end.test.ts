import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { readEventLines, runStream } from './helpers/stream-server.js';

/**
 * A server that holds each 101 for UPGRADE_HOLD_MS and answers each ping REPLY_AFTER_MS later,
 * so that when a population's time is up some sockets are still opening and every open one is
 * still waiting for a reply.
 */
const UPGRADE_HOLD_MS = 100;
const REPLY_AFTER_MS = 300;

function slowServer(): Promise<{ url: string; server: Server }> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = createServer();
  server.on('upgrade', (req, socket, head) => {
    setTimeout(() => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data) => {
          const seq = (JSON.parse(String(data)) as { seq: number }).seq;
          setTimeout(() => ws.send(`{"type":"pong","seq":${seq}}`), REPLY_AFTER_MS);
        });
        ws.on('error', () => undefined);
      });
    }, UPGRADE_HOLD_MS);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`, server })));
}

let open: Server | null = null;
afterEach(async () => {
  open?.closeAllConnections();
  await new Promise((resolve) => open?.close(resolve) ?? resolve(null));
  open = null;
});

describe('the end of a population with a stream', () => {
  it('every socket waits for its last reply, those still opening when the time was up included: none lost, all closed 1000', async () => {
    const { url, server } = await slowServer();
    open = server;
    // 1,200 clients over 1 s (more than one batch of sessions ends per turn of the loop); the time
    // is up at 1.05 s, while the clients that came in its last 50 ms are still held at the 101.
    const result = await runStream(url, '  stream: { every: 10s, within: 2s }\n', { load: '  population: { clients: 1200, over: 1s }\n  duration: 1050ms\n' });
    const s = result.summary;
    const events = readEventLines(result.outDir);
    const endMs = s.schedule.startAfterMs + 1050;
    const openedLate = events.filter((e) => e.open !== null && e.open > endMs);
    expect(openedLate.length).toBeGreaterThan(0);
    // A client whose first attempt had not started when the time was up is never tried. On a quiet
    // machine that is none; a worker late by L ms (its schedule lag, or a stall of its loop) leaves
    // out at most those scheduled in the last L ms (1.2 a millisecond here), and the run says it is partial.
    const started = s.totals.attempted;
    const lateMs = Math.max(s.scheduleLagMs.max ?? 0, s.loopDelayMs?.max ?? 0);
    expect(1200 - started).toBeLessThanOrEqual(Math.ceil(1.2 * lateMs) + 1);
    if (started < 1200) expect(s.partial).toBe(true);
    expect(s.totals.opened).toBe(started);
    expect(s.totals.closeCodes).toEqual({ '1000': started });
    // One message at each open (every: 10s), each answered before the socket closed.
    expect(s.messages).toMatchObject({ sent: started, replied: started, late: 0, lost: 0 });
    for (const e of openedLate) expect(e.msgs).toEqual({ sent: 1, replied: 1, late: 0, lost: 0 });
  });
});
