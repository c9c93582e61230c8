import { describe, expect, it } from 'vitest';
import { acceptKey, closeFrame, startRawServer, switching } from './helpers/raw-server.js';
import { expectFilesAgree, floodGaps, floodSent, pong, startFloodServerProcess, readEventLines, readMessages, readClientFrames, runStream, streamServers, type StreamConn } from './helpers/stream-server.js';

const { serve, track } = streamServers();

/** 4 sockets (200 ms at 20/s), each holding 300 ms with a message every 100 ms: 4 messages each (at 0, 100, 200, 300 ms). */
const STREAM = `  hold: 300ms\n  stream: { every: 100ms, within: 1s }\n`;
const counts = (m: NonNullable<Awaited<ReturnType<typeof runStream>>['summary']['messages']>) => ({
  sent: m.sent,
  replied: m.replied,
  late: m.late,
  lost: m.lost,
  outOfOrder: m.outOfOrder,
  duplicates: m.duplicates,
  unmatched: m.unmatched,
  serverGaps: m.serverGaps,
  serverMissing: m.serverMissing,
});
const NONE = { sent: 0, replied: 0, late: 0, lost: 0, outOfOrder: 0, duplicates: 0, unmatched: 0, serverGaps: 0, serverMissing: 0 };

describe('replies matched by sequence number', () => {
  it('reordered (2 before 1, 4 before 3): exact outOfOrder, every message replied', async () => {
    const waiting = new Map<StreamConn, number>();
    const server = await serve({
      ping: (c, seq) => {
        if (seq % 2 === 1) return void waiting.set(c, seq);
        pong(c, seq);
        pong(c, waiting.get(c)!);
      },
    });
    const result = await runStream(server.url, STREAM);
    expect(counts(result.summary.messages!)).toEqual({ ...NONE, sent: 16, replied: 16, outOfOrder: 8 });
    const ooo = readMessages(result.outDir).filter((l) => l.ooo);
    expect(ooo.map((l) => l.seq).sort()).toEqual([1, 1, 1, 1, 3, 3, 3, 3]);
    // Answered with the next one: not before that was sent.
    const lines = readMessages(result.outDir);
    for (const l of ooo) {
      const next = lines.find((x) => x.i === l.i && x.seq === l.seq! + 1)!;
      expect(l.rtt!).toBeGreaterThanOrEqual(next.sent! - l.sent! - 0.002);
    }
    expectFilesAgree(result, expect);
  });

  it('duplicated: each reply twice is one replied and one duplicate', async () => {
    const server = await serve({ ping: (c, seq) => (pong(c, seq), pong(c, seq)) });
    const result = await runStream(server.url, STREAM);
    expect(counts(result.summary.messages!)).toEqual({ ...NONE, sent: 16, replied: 16, duplicates: 16 });
    const dups = readMessages(result.outDir).filter((l) => l.r === 'duplicate');
    expect(dups.map((l) => l.seq).sort()).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]);
    for (const l of dups) expect(l.at).toBeTypeOf('number');
    expectFilesAgree(result, expect);
  });

  it('a reply to a number never sent is unmatched; a reply without a number is the server’s own message', async () => {
    const server = await serve({
      ping: (c, seq) => {
        pong(c, seq);
        if (seq === 2) {
          pong(c, 99);
          c.ws.send('{"type":"pong","seq":"two"}');
        }
      },
    });
    const result = await runStream(server.url, STREAM);
    expect(counts(result.summary.messages!)).toEqual({ ...NONE, sent: 16, replied: 16, unmatched: 4 });
    expect(readMessages(result.outDir).filter((l) => l.r === 'unmatched').map((l) => l.seq)).toEqual([99, 99, 99, 99]);
    expectFilesAgree(result, expect);
  });
});

describe('replies without a sequence number', () => {
  it('answer the oldest outstanding message, in order; one with none outstanding is unmatched', async () => {
    const server = await serve({
      ping: (c, seq) => {
        c.ws.send('{"type":"pong"}');
        // Sent right after the reply to 2, while nothing is outstanding (3 goes 100 ms later).
        if (seq === 2) c.ws.send('{"type":"pong"}');
      },
    });
    const result = await runStream(server.url, `  hold: 300ms\n  stream: { every: 100ms, within: 1s, reply: { match: '"type":"pong"' } }\n`);
    expect(counts(result.summary.messages!)).toEqual({ ...NONE, sent: 16, replied: 16, unmatched: 4 });
    const lines = readMessages(result.outDir);
    expect(lines.filter((l) => l.r === 'unmatched').every((l) => l.seq === undefined)).toBe(true);
    expectFilesAgree(result, expect);
  });
});

describe('a JSON-subset reply matcher', () => {
  it('only messages containing the subset are replies (seq at a nested path); the rest go on to the script', async () => {
    const server = await serve({
      ping: (c, seq) => {
        c.ws.send(`{"type":"pong","ok":false,"data":{"seq":${seq}}}`); // not the subset: the server's own
        c.ws.send('{"type":"pong","ok":true}'); // the subset, but no number at data.seq: the server's own
        c.ws.send(`{"extra":[1,2],"ok":true,"type":"pong","data":{"seq":${seq},"more":"x"}}`);
      },
    });
    const result = await runStream(
      server.url,
      `  hold: 300ms\n  stream: { every: 100ms, within: 1s, reply: { json: { type: pong, ok: true }, seq: data.seq } }\n  steps:\n    - expect: { name: own, match: '"ok":false' }\n    - expect: { name: ownToo, json: { type: pong, ok: true } }\n`,
    );
    expect(counts(result.summary.messages!)).toEqual({ ...NONE, sent: 16, replied: 16 });
    expect(result.summary.steps!.own.passed).toBe(4);
    expect(result.summary.steps!.ownToo.passed).toBe(4);
    expect(result.summary.totals.closeCodes).toEqual({ '1000': 4 });
    expectFilesAgree(result, expect);
  });
});

describe('session.serverSeq', () => {
  /** What every socket receives; skips 4 (one missing) and 7, 8 (two); a repeat and a step back are no gaps. */
  const TICKS = [1, 2, 3, 5, 6, 9, 10, 10, 8, 11];
  const ticks = (c: StreamConn) => {
    for (const n of TICKS) c.ws.send(`{"type":"tick","data":{"n":${n}}}`);
  };

  it('counts the gaps in the server’s own numbers and the numbers skipped, beside a stream', async () => {
    const server = await serve({ open: ticks, ping: (c, seq) => pong(c, seq) });
    const result = await runStream(server.url, `${STREAM}  serverSeq: data.n\n`);
    expect(counts(result.summary.messages!)).toEqual({ ...NONE, sent: 16, replied: 16, serverGaps: 8, serverMissing: 12 });
    const gaps = readMessages(result.outDir).filter((l) => l.r === 'gap');
    expect(gaps.map((l) => [l.seq, l.missing]).sort()).toEqual([5, 5, 5, 5, 9, 9, 9, 9].map((n) => [n, n === 5 ? 1 : 2]).sort());
    expectFilesAgree(result, expect);
  });

  it('without a stream: gaps only, no message sent', async () => {
    const server = await serve({ open: ticks });
    const result = await runStream(server.url, `  hold: 100ms\n  serverSeq: data.n\n`);
    expect(counts(result.summary.messages!)).toEqual({ ...NONE, serverGaps: 8, serverMissing: 12 });
    expect(server.conns.every((c) => c.received.length === 0)).toBe(true);
    expect(readEventLines(result.outDir).every((e) => e.msgs === undefined)).toBe(true);
    expectFilesAgree(result, expect);
  });
});

describe('the socket’s end takes what is outstanding', () => {
  it('the server closes with 1011: every message outstanding is lost to 1011', async () => {
    const server = await serve({ ping: (c, seq) => seq === 3 && c.ws.close(1011, 'not ready') });
    const result = await runStream(server.url, `  hold: 1s\n  stream: { every: 100ms, within: 1s }\n`);
    const m = result.summary.messages!;
    // A message wsrace sent before it read the close frame (seq 4 on a busy machine) reached the
    // server too (ws reads on while closing): counted on both sides.
    const got = server.conns.reduce((n, c) => n + c.seqs.length, 0);
    for (const c of server.conns) expect(c.seqs.slice(0, 3)).toEqual([1, 2, 3]);
    expect({ ...counts(m), lostByClose: m.lostByClose }).toEqual({ ...NONE, sent: got, lost: got, lostByClose: { '1011': got } });
    expect(readMessages(result.outDir).every((l) => l.code === 1011)).toBe(true);
    expectFilesAgree(result, expect);
  });

  it('the server cuts the connection: lost to 1006', async () => {
    const server = await serve({ ping: (c, seq) => seq === 2 && c.ws.terminate() });
    const result = await runStream(server.url, `  hold: 1s\n  stream: { every: 100ms, within: 1s }\n`);
    const m = result.summary.messages!;
    // The server cut each socket at its second message (a third in the same read, on a slow
    // machine, is parsed before the cut takes effect); whatever wsrace sent is lost to 1006.
    expect(server.conns.map((c) => c.seqs.slice(0, 2))).toEqual([0, 1, 2, 3].map(() => [1, 2]));
    expect(m.sent).toBeGreaterThanOrEqual(8);
    expect({ ...counts(m), lostByClose: m.lostByClose }).toEqual({ ...NONE, sent: m.sent, lost: m.sent, lostByClose: { '1006': m.sent } });
    expectFilesAgree(result, expect);
  });

  it('after the server’s close frame nothing more is sent (ws would not send it), while the server is slow to hang up', async () => {
    // A raw server: the upgrade, then after the second message a close frame (1011), and it never
    // hangs up (wsrace cuts it after closeTimeout). Every message wsrace counts, it received.
    const received: number[] = [];
    const raw = await startRawServer((head, socket) => {
      const k = received.push(0) - 1;
      socket.write(switching(acceptKey(head)));
      socket.allowHalfOpen = true;
      readClientFrames(socket, (opcode) => {
        if (opcode !== 0x1) return;
        if (++received[k] === 2) socket.write(closeFrame(1011, Buffer.from('bridge down')));
      });
    });
    track(raw);
    const result = await runStream(raw.url, `  hold: 2s\n  closeTimeout: 300ms\n  stream: { every: 20ms, within: 1s }\n`);
    const m = result.summary.messages!;
    // A message wsrace sent before it read the close frame reached the server too: counted on both sides.
    const got = received.reduce((a, b) => a + b, 0);
    expect(received.every((n) => n >= 2)).toBe(true);
    expect({ ...counts(m), lostByClose: m.lostByClose }).toEqual({ ...NONE, sent: got, lost: got, lostByClose: { '1011': got } });
    expectFilesAgree(result, expect);
  });
});

describe('a server that floods', () => {
  /** Peak RSS growth of this process (the workers are its threads) while `run` goes, in bytes. */
  async function peakGrowth<T>(run: () => Promise<T>): Promise<{ result: T; growth: number }> {
    const start = process.memoryUsage.rss();
    let peak = start;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
    try {
      const result = await run();
      return { result, growth: Math.max(peak, process.memoryUsage.rss()) - start };
    } finally {
      clearInterval(timer);
    }
  }

  it('thousands of messages a second beside the stream: counts exact, memory bounded (no buffering per message)', async () => {
    // 4 sockets, each flooded with 5,495 messages of 4 KB (88 MB in all) while its stream runs.
    const LAST = 5_500;
    // The socket stays open until the flood is over (however long this machine takes to send and
    // read it), its stream sending all the while for the first second.
    const session = `  hold: 1s\n  stream: { every: 100ms, within: 10s }\n  serverSeq: n\n  steps:\n    - expect: { name: done, match: flood-done, within: 20s }\n`;
    const quiet = await startFloodServerProcess(0);
    track(quiet);
    const base = await peakGrowth(() => runStream(quiet.url, session));
    const server = await startFloodServerProcess(LAST);
    track(server);
    const { result, growth } = await peakGrowth(() => runStream(server.url, session));
    expect(base.result.summary.messages).toMatchObject({ sent: 4 * 11, replied: 4 * 11, serverGaps: 0 });
    // Every flooded message was read: each gap the server made was seen, and every reply timed.
    expect(result.summary.totals.opened).toBe(4);
    expect(result.summary.steps!.done.passed).toBe(4);
    expect(counts(result.summary.messages!)).toEqual({ ...NONE, sent: 4 * 11, replied: 4 * 11, serverGaps: 4 * floodGaps(LAST), serverMissing: 4 * floodGaps(LAST) });
    // Kept per message, the flood would take 88 MB and more.
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    expect(growth - base.growth, `RSS grew ${mib(growth)} MiB with ${4 * floodSent(LAST)} flooded messages, ${mib(base.growth)} MiB without`).toBeLessThan(16 * 2 ** 20);
    expectFilesAgree(result, expect);
  });
});
