import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';
import { renderSummary } from '../src/report/console.js';
import { acceptKey, closeFrame, frame, startRawServer, switching } from './helpers/raw-server.js';
import { readEvents } from './helpers/coldstart.js';
import { atMost } from './helpers/slack.js';

const outDir = () => mkdtempSync(join(tmpdir(), 'wsrace-hostile-'));
const run = (url: string, extra = '', session = 'session:\n  hold: 100ms\n  closeTimeout: 300ms\n') =>
  runScenario(parseScenarioText(`name: hostile\ntarget:\n  url: ${url}\n  handshakeTimeout: 400ms\n${extra}load:\n  stages:\n    - { duration: 200ms, rate: 25 }\n${session}drainTimeout: 3s\n`, 'hostile.yaml'), { outDir: outDir(), workers: 1 });

async function against(handler: Parameters<typeof startRawServer>[0], extra = '', session?: string) {
  const server = await startRawServer(handler);
  try {
    return (await run(server.url, extra, session)).summary;
  } finally {
    await server.close();
  }
}

describe('hostile or broken servers: a counted outcome each, no crash', () => {
  it('answers the upgrade byte by byte (slowloris): handshake_timeout at the deadline', async () => {
    const s = await against((head, socket) => {
      const bytes = Buffer.from(switching(acceptKey(head)));
      let i = 0;
      const timer = setInterval(() => {
        if (i >= bytes.length || socket.destroyed) return clearInterval(timer);
        socket.write(bytes.subarray(i, ++i));
      }, 40);
      socket.on('close', () => clearInterval(timer));
    });
    expect(s.totals.attempted).toBe(5);
    expect(s.totals.errors.handshake_timeout).toBe(5);
    // Cut at handshakeTimeout (400 ms) after its start, by a deadline that runs late by the loop's
    // delay; the attempt ends on the cut socket's close event, one more wait on the loop.
    expect(s.handshakeFailMs.max!).toBeLessThanOrEqual(atMost(400, s, { events: 1, deadlines: 1 }));
  });

  it('sends 1011 and never hangs up: counted 1011 even when the expect deadline passes before the socket closes', async () => {
    const session = "session:\n  hold: 100ms\n  closeTimeout: 600ms\n  expect: { match: pong, within: 100ms }\n";
    const s = await against((head, socket) => {
      socket.write(switching(acceptKey(head)));
      socket.write(closeFrame(1011, Buffer.from('Service not ready')));
      // Reads the client's close frame and its FIN, and never closes its own side.
      socket.allowHalfOpen = true;
      socket.resume();
    }, '', session);
    // Both in one assertion: a failure then shows what the other attempts ended as.
    const failed = Object.fromEntries(Object.entries(s.totals.errors).filter(([, n]) => n > 0));
    expect({ closeCodes: s.totals.closeCodes, failed }).toEqual({ closeCodes: { '1011': 5 }, failed: {} });
    expect(s.totals.closeReasons).toEqual({ '1011': ['Service not ready'] });
  });

  it('sends a 101 without a valid accept key', async () => {
    const s = await against((_head, socket) => socket.write(switching('bm90IHRoZSByaWdodCBrZXk=')));
    expect(s.totals.errors.error).toBe(5);
    expect(s.totals.errorCodes).toEqual({ invalid_accept: 5 });
  });

  it('sends garbage instead of HTTP', async () => {
    const s = await against((_head, socket) => socket.end(Buffer.from('\x00\x01\x02 garbage\r\n\r\nmore garbage')));
    expect(s.totals.errors.error).toBe(5);
    expect(s.totals.errorCodes).toEqual({ invalid_http: 5 });
  });

  it('sends a frame bigger than maxPayload: refused before it is buffered', async () => {
    const s = await against((head, socket) => {
      socket.write(switching(acceptKey(head)));
      socket.write(frame(0x2, Buffer.alloc(16), 2 * 1024 * 1024)); // claims 2 MiB
    });
    expect(s.totals.opened).toBe(5);
    expect(s.totals.errorCodes).toEqual({ max_payload: 5 });
  });

  it('maxPayload is a setting', async () => {
    const s = await against((head, socket) => {
      socket.write(switching(acceptKey(head)));
      socket.write(frame(0x1, Buffer.alloc(2000, 'a')));
    }, '  maxPayload: 1000\n');
    expect(s.totals.errorCodes).toEqual({ max_payload: 5 });
  });

  it('sends an invalid close code, or invalid UTF-8 in a close reason', async () => {
    const bad = await against((head, socket) => {
      socket.write(switching(acceptKey(head)));
      socket.write(closeFrame(999));
    });
    expect(bad.totals.errorCodes).toEqual({ invalid_close_code: 5 });
    const utf8 = await against((head, socket) => {
      socket.write(switching(acceptKey(head)));
      socket.write(closeFrame(1011, Buffer.from([0x53, 0xff, 0xfe])));
    });
    expect(utf8.totals.errorCodes).toEqual({ invalid_utf8: 5 });
  });

  it('never closes after the client’s close frame: cut after closeTimeout, counted 1006', async () => {
    const server = await startRawServer((head, socket) => socket.write(switching(acceptKey(head))));
    const { summary: s, outDir: dir } = await run(server.url).finally(() => server.close());
    expect(s.totals.closeCodes).toEqual({ '1006': 5 });
    // Held 100 ms, then given closeTimeout (300 ms, a Node timer: whole milliseconds) to answer:
    // two deadlines, each late by at most the loop's delay.
    for (const e of readEvents(dir)) {
      expect(e.end - e.open!).toBeGreaterThanOrEqual(100 + 300 - 1);
      expect(e.end - e.open!).toBeLessThanOrEqual(atMost(100 + 300, s, { events: 0, deadlines: 2, fromSchedule: false }));
    }
  });

  it('floods messages faster than they are read: bounded memory, normal outcome', async () => {
    const before = process.memoryUsage().rss;
    const chunk = frame(0x1, Buffer.alloc(60_000, 'x'));
    const s = await against(
      (head, socket) => {
        socket.write(switching(acceptKey(head)));
        const until = Date.now() + 1000;
        const pump = () => {
          while (Date.now() < until && !socket.destroyed && socket.write(chunk));
          if (Date.now() < until && !socket.destroyed) socket.once('drain', pump);
        };
        pump();
        socket.on('data', (d) => {
          if (d.length >= 2 && (d[0] & 0x0f) === 0x8) socket.end(closeFrame(1000));
        });
      },
      '',
      'session:\n  hold: 500ms\n  closeTimeout: 300ms\n',
    );
    expect(s.totals.attempted).toBe(5);
    expect(s.totals.opened).toBe(5);
    expect((s.totals.closeCodes['1000'] ?? 0) + (s.totals.closeCodes['1006'] ?? 0)).toBe(5);
    expect(process.memoryUsage().rss - before).toBeLessThan(300 * 1024 * 1024);
  });

  it('pings endlessly: answered, the session still ends normally', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (ws) => {
      const timer = setInterval(() => ws.ping(), 1);
      ws.on('close', () => clearInterval(timer));
    });
    const port = (wss.address() as { port: number }).port;
    try {
      const { summary } = await run(`ws://127.0.0.1:${port}/ws`);
      expect(summary.totals.closeCodes).toEqual({ '1000': 5 });
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    }
  });

  it('server text is shown with control characters escaped', async () => {
    const s = await against((head, socket) => {
      socket.write(switching(acceptKey(head)));
      socket.write(closeFrame(1011, Buffer.from('not ready \x1b[2J\x1b[31mred\u202e')));
    });
    expect(s.totals.closeReasons['1011']).toEqual(['not ready \x1b[2J\x1b[31mred\u202e']);
    const text = renderSummary(s);
    expect(text).not.toContain('\x1b');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('not ready \\x1b[2J\\x1b[31mred\\u202e');
    // No thresholds: the verdict says why nothing failed.
    expect(text.trim().split('\n').at(-1)).toBe('Verdict: PASS (no thresholds set: add some, e.g. "totals.opened > 0", for a run to fail)');
  });
});
