import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { correlateRun } from '../src/run/correlate.js';
import { mergeRuns } from '../src/run/merge.js';
import { AFTER_READY_WINDOW_MS } from '../src/timeline/message-report.js';
import type { MessageLine } from '../src/record/messages.js';
import { expectFilesAgree, pong, readEventLines, readMessages, runStream, streamServers } from './helpers/stream-server.js';

const { serve } = streamServers();
const echo = { ping: (c: Parameters<typeof pong>[0], seq: number) => pong(c, seq) };

describe('a stream beside the session script', () => {
  it('session.steps: expect steps still see the server’s other messages, never the stream’s replies', async () => {
    const server = await serve({
      open: (c) => c.ws.send('{"type":"hello"}'),
      ping: (c, seq) => {
        pong(c, seq);
        // 250 ms after the first message (sent once the socket was open): matches the step's
        // regex ("pong"), not the stream's ('"type":"pong"').
        if (seq === 1) setTimeout(() => c.ws.readyState === 1 && c.ws.send('{"type":"pong-news"}'), 250);
      },
    });
    const result = await runStream(
      server.url,
      `  hold: 400ms\n  stream: { every: 100ms }\n  steps:\n    - expect: { name: hello, match: hello }\n    - send: '{"type":"work"}'\n    - expect: { name: news, match: pong, within: 1s }\n`,
    );
    const s = result.summary;
    expect(s.messages).toMatchObject({ sent: 4 * 5, replied: 20, lost: 0 });
    expect(s.steps!.hello.passed).toBe(4);
    expect(s.steps!.news.passed).toBe(4);
    // The replies at 0, 100 and 200 ms were the stream's: the step passed on the message at 250 ms
    // (a Node timer on the server: not before 249).
    expect(s.steps!.news.fromOpenMs.min!).toBeGreaterThanOrEqual(249);
    expect(server.conns.every((c) => c.received.some((r) => (r as { type?: string })?.type === 'work'))).toBe(true);
    expect(s.totals.closeCodes).toEqual({ '1000': 4 });
    expectFilesAgree(result, expect);
  });

  it('the send/expect shorthand: its messages go out, its expect sees the server’s messages only', async () => {
    const server = await serve({
      open: (c) => c.ws.on('message', (d) => d.toString() === '{"type":"hello"}' && setTimeout(() => c.ws.send('{"type":"welcome"}'), 150)),
      ...echo,
    });
    const result = await runStream(server.url, `  hold: 300ms\n  send: ['{"type":"hello"}']\n  expect: { match: welcome, within: 1s }\n  stream: { every: 100ms }\n`);
    const s = result.summary;
    expect(s.firstMessageMs.count).toBe(4);
    expect(s.firstMessageMs.min!).toBeGreaterThanOrEqual(149);
    expect(s.messages).toMatchObject({ sent: 16, replied: 16 });
    expect(s.totals.closeCodes).toEqual({ '1000': 4 });
    expectFilesAgree(result, expect);
    // An expect only the stream's replies would match times out: they are the stream's.
    const pongs = await runStream(server.url, `  hold: 300ms\n  expect: { match: pong, within: 250ms }\n  stream: { every: 100ms }\n`);
    expect(pongs.summary.totals.errors.expect_timeout).toBe(4);
    expect(pongs.summary.messages).toMatchObject({ sent: 12, replied: 12 });
    expectFilesAgree(pongs, expect);
  });
});

describe('a run that ends early, and reconnects', () => {
  it('interrupted: the messages outstanding are lost to 1001, the files agree', async () => {
    const server = await serve({});
    const controller = new AbortController();
    const seconds = server.closed(4, 20_000); // the 4 sockets close when the run is stopped
    const running = runStream(server.url, `  hold: 10s\n  stream: { every: 100ms }\n`, { options: { signal: controller.signal } });
    // Stopped once every socket has sent its third message (the server never answers).
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (server.conns.length === 4 && server.conns.every((c) => c.seqs.length >= 3)) {
          clearInterval(timer);
          controller.abort();
          resolve();
        }
      }, 5);
      setTimeout(() => (clearInterval(timer), reject(new Error('the sockets never sent 3 messages'))), 20_000);
    });
    const result = await running;
    await seconds;
    const got = server.conns.reduce((n, c) => n + c.seqs.length, 0);
    expect(result.summary.partial).toBe(true);
    expect(server.conns.map((c) => c.closeCode)).toEqual([1001, 1001, 1001, 1001]);
    expect(result.summary.messages).toMatchObject({ sent: got, replied: 0, lost: got, lostByClose: { '1001': got } });
    expectFilesAgree(result, expect);
  });

  it('reconnect: each attempt has its own stream, numbered from 1', async () => {
    // The first attempt of each client (attempt index 0..3, named by ${conn}) is never answered
    // and gets 1011 after its second message; the retries are answered.
    const server = await serve({ ping: (c, seq, _at, msg) => ((msg.conn as number) >= 4 ? pong(c, seq) : seq === 2 && c.ws.close(1011, 'warming')) });
    const result = await runStream(
      server.url,
      `  hold: 300ms\n  stream: { every: 100ms, send: '{"type":"ping","seq":\${seq},"conn":\${conn}}' }\n  reconnect: { on: [1011], max: 3, backoff: { initial: 20ms, jitter: 0% } }\n`,
    );
    const s = result.summary;
    expect(s.totals.attempted).toBe(8);
    expect(s.messages).toMatchObject({ sent: 4 * 2 + 4 * 4, replied: 16, lost: 8, lostByClose: { '1011': 8 } });
    const events = readEventLines(result.outDir);
    expect(events.filter((e) => e.try === 0).map((e) => e.msgs)).toEqual([0, 1, 2, 3].map(() => ({ sent: 2, replied: 0, late: 0, lost: 2 })));
    expect(events.filter((e) => e.try === 1).map((e) => e.msgs)).toEqual([0, 1, 2, 3].map(() => ({ sent: 4, replied: 4, late: 0, lost: 0 })));
    expectFilesAgree(result, expect);
  });
});

describe('messages by phase, after the run', () => {
  it('correlate re-attributes every message by when it was sent', async () => {
    const server = await serve(echo);
    const result = await runStream(server.url, `  hold: 300ms\n  stream: { every: 100ms }\n`);
    const before = readMessages(result.outDir);
    expect(before.every((l) => l.phase === 'unknown')).toBe(true);
    // Ready between two sends, half of them before it.
    const sent = before.map((l) => l.sent!).sort((a, b) => a - b);
    const readyMs = (sent[7] + sent[8]) / 2;
    const t0 = result.summary.t0EpochMs;
    const file = join(mkdtempSync(join(tmpdir(), 'wsrace-stream-tl-')), 'timeline.json');
    writeFileSync(file, JSON.stringify([{ phase: 'warming', at: t0 }, { phase: 'ready', at: t0 + readyMs }]));
    const s = await correlateRun(result.outDir, file);
    const after = readMessages(result.outDir);
    expect(after.map((l) => l.phase)).toEqual(before.map((l) => (l.sent! >= readyMs ? 'ready' : 'warming')));
    const count = (keep: (l: MessageLine) => boolean) => after.filter(keep).length;
    expect(s.phases.warming.messages).toMatchObject({ sent: 8, replied: 8 });
    expect(s.phases.ready.messages).toMatchObject({ sent: 8, replied: 8 });
    expect(s.beforeReady.messages!.sent).toBe(8);
    expect(s.afterReady.messages!.sent).toBe(8);
    expect(s.messages!.firstAfterReady!.sent).toBe(count((l) => l.sent! >= readyMs && l.sent! < readyMs + AFTER_READY_WINDOW_MS));
    expect(s.messages!.laterAfterReady!.sent).toBe(count((l) => l.sent! >= readyMs + AFTER_READY_WINDOW_MS));
    expect(s.messages).toMatchObject({ sent: 16, replied: 16 });
    expectFilesAgree({ ...result, summary: s }, expect);
  });

  it('a phase with messages but no attempt stands in timeline order in summary.json, not last', async () => {
    const server = await serve(echo);
    // Two bursts of arrivals 600 ms apart; the first burst's sockets stream through the gap.
    const result = await runStream(server.url, `  hold: 500ms\n  stream: { every: 50ms }\n`, { load: '  stages: [{ duration: 100ms, rate: 40 }, { duration: 600ms, rate: 1 }, { duration: 100ms, rate: 40 }]\n' });
    const scheds = readEventLines(result.outDir).map((e) => e.sched).sort((a, b) => a - b);
    // The widest gap between two scheduled starts: "cache" takes it (no attempt, messages), "ready" the burst after it.
    const gap = scheds.slice(1).reduce((best, x, k) => (x - scheds[k] > best.to - best.from ? { from: scheds[k], to: x } : best), { from: 0, to: 0 });
    expect(gap.to - gap.from).toBeGreaterThan(200);
    const t0 = result.summary.t0EpochMs;
    const file = join(mkdtempSync(join(tmpdir(), 'wsrace-stream-order-')), 'timeline.json');
    writeFileSync(file, JSON.stringify([{ phase: 'warming', at: t0 }, { phase: 'cache', at: t0 + gap.from + 1 }, { phase: 'ready', at: t0 + gap.to - 1 }]));
    const s = await correlateRun(result.outDir, file);
    expect(s.phases.cache.attempted).toBe(0);
    expect(s.phases.cache.messages!.sent).toBeGreaterThan(0);
    expect(s.phases.ready.attempted).toBeGreaterThan(0);
    expect(Object.keys(s.phases)).toEqual(['warming', 'cache', 'ready']);
  });

  it('merge of two shards adds their messages up', async () => {
    const server = await serve(echo);
    const root = mkdtempSync(join(tmpdir(), 'wsrace-stream-shards-'));
    const startAt = Date.now() + 1500;
    const shards = await Promise.all(
      [0, 1].map((k) =>
        runStream(server.url, `  hold: 300ms\n  stream: { every: 100ms }\n`, { load: '  stages: [{ duration: 400ms, rate: 20 }]\n', options: { outDir: join(root, `shard-${k}`), shard: { index: k, count: 2 }, startAt } }),
      ),
    );
    expect(shards.map((r) => r.summary.messages!.sent)).toEqual([16, 16]);
    const merged = await mergeRuns(
      shards.map((r) => r.outDir),
      join(root, 'merged'),
    );
    expect(merged.messages).toMatchObject({ sent: 32, replied: 32, lost: 0 });
    const lines = readFileSync(join(root, 'merged', 'messages.ndjson'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(32);
    expect(new Set(lines.map((l) => (JSON.parse(l) as { shard: number }).shard))).toEqual(new Set([0, 1]));
    expectFilesAgree({ summary: merged, outDir: join(root, 'merged'), exitCode: 0 }, expect);
  });
});
