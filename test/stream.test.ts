import type { Histogram } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { Attempt, type AttemptHost } from '../src/engine/connection.js';
import { connectionSettings } from '../src/run/settings.js';
import { parseScenarioText } from '../src/scenario/load.js';
import { SourcePorts } from '../src/engine/source-ports.js';
import { compileStream } from '../src/engine/stream.js';
import { compileTemplates } from '../src/engine/templates.js';
import { compileStreamTemplate } from '../src/session/stream-template.js';
import { createHistogram, METRICS, type Metric } from '../src/record/histogram.js';
import { MSG_LOST } from '../src/record/messages.js';
import type { AttemptRecord } from '../src/record/attempt.js';
import { atMost, hdrResolution, watchLoop } from './helpers/slack.js';
import { expectFilesAgree, percentile, plainStream, pong, pongAfter, readEventLines, readMessages, runStream, sentByAttempt, streamServers, type StreamConn } from './helpers/stream-server.js';

const { serve } = streamServers();

/** Messages per socket that runs its whole hold: one at open, then one every `every` up to and including the hold's end. */
const perSocket = (holdMs: number, everyMs: number) => Math.floor(holdMs / everyMs) + 1;

describe('session.stream against a server that delays each reply', () => {
  it('every RTT at least the delay the server applied, above it by at most the wire and the two threads’ measured lateness, the median within 1 ms of it; counts exact', async () => {
    const D = 20;
    /** The delay the server really applied to each message, by "conn:seq". */
    const held = new Map<string, number>();
    const ping = (c: StreamConn, seq: number, at: number, msg: Record<string, unknown>) => pongAfter(c, seq, at, D, (ms) => held.set(`${String(msg.conn)}:${seq}`, ms));
    // A plain ws client in its own thread against a twin server, from wsrace's first socket on:
    // what a client that records nothing measures on this machine in the same seconds.
    const twin = await serve({ ping });
    let plain: Promise<Record<string, number>> | undefined;
    const startPlain = () => {
      const p = plainStream(twin.url, { sockets: 10, everyMs: 200, count: perSocket(1000, 200), timeoutMs: 20_000 });
      p.catch(() => undefined); // awaited below, where a failure fails the test; not unhandled meanwhile
      return p;
    };
    const server = await serve({ ping, open: () => void (plain ??= startPlain()) });
    const loop = watchLoop();
    // ${conn} in the message: the server learns which attempt each message is from.
    const result = await runStream(server.url, `  hold: 1s\n  stream: { every: 200ms, within: 10s, send: '{"type":"ping","seq":\${seq},"conn":\${conn}}' }\n`, {
      load: '  stages: [{ duration: 500ms, rate: 20 }]\n',
    });
    loop.stop();
    const s = result.summary;
    const m = s.messages!;
    const n = perSocket(1000, 200);
    expect(s.totals.opened).toBe(10);
    expect(s.totals.closeCodes).toEqual({ '1000': 10 });
    expect({ sent: m.sent, replied: m.replied, late: m.late, lost: m.lost, outOfOrder: m.outOfOrder, duplicates: m.duplicates, unmatched: m.unmatched }).toEqual({ sent: 10 * n, replied: 10 * n, late: 0, lost: 0, outOfOrder: 0, duplicates: 0, unmatched: 0 });
    // Every socket sent exactly n, numbered 1..n, and each names its own attempt.
    expect(server.conns.map((c) => c.seqs)).toEqual(server.conns.map(() => Array.from({ length: n }, (_, k) => k + 1)));
    for (const c of server.conns) expect(new Set(c.received.map((r) => (r as { conn: number }).conn)).size).toBe(1);
    expect(new Set(server.conns.map((c) => (c.received[0] as { conn: number }).conn))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    // Message by message: the round trip contains the server's hold (nothing comes back before
    // the server sent it), and exceeds it by the wire (1 ms) and by how long the reply waited to be
    // read on each side: on this thread (the server; its loop measured here) and in the worker
    // (its loop measured by the run, plus a tick).
    const lines = readMessages(result.outDir);
    for (const l of lines) {
      const h = held.get(`${l.i}:${l.seq}`)!;
      expect(h).toBeGreaterThanOrEqual(D);
      expect(l.rtt!).toBeGreaterThanOrEqual(h - 0.001);
      expect(l.rtt!, `message ${l.i}:${l.seq}`).toBeLessThanOrEqual(atMost(h, s, { events: 1, fromSchedule: false, extraMs: 1 + loop.maxWaitMs() }));
    }
    expect(lines).toHaveLength(10 * n);
    // summary.json's histogram says the same as the lines.
    const rtts = lines.map((l) => l.rtt!);
    expect(m.rttMs.min!).toBeGreaterThanOrEqual(D);
    expect(Math.abs(m.rttMs.p50! - percentile(rtts, 50))).toBeLessThanOrEqual(hdrResolution(m.rttMs.p50!));
    // The issue's own check: the median round trip is within 1 ms of the delay the server applied,
    // or within what the plain client's round trips exceeded it by at p90 when this machine made
    // that more (both medians are of 60 messages; p75 was too tight once in a clean-clone CI run,
    // 1.58 ms against the plain client's 1.44 ms).
    const medianHeld = percentile([...held].filter(([k]) => !k.startsWith('p')).map(([, ms]) => ms), 50);
    const plainOver = Object.entries(await plain!).map(([k, rtt]) => rtt - held.get(k)!);
    expect(plainOver).toHaveLength(10 * n);
    expect(m.rttMs.p50!).toBeGreaterThanOrEqual(medianHeld - 0.001);
    expect(m.rttMs.p50! - medianHeld).toBeLessThanOrEqual(Math.max(1, percentile(plainOver, 90)) + hdrResolution(m.rttMs.p50!));
    expectFilesAgree(result, expect);
  });

  it('a reply after `within` is late, not replied; the one still out when the drain ends is lost (1000)', async () => {
    // Messages at 0, 400 and 800 ms. Even sockets answer at once; odd ones answer the first two
    // after 400 ms, past within (300 ms): late however busy this machine is, and in at 400 and
    // 800 ms, well before the drain gives up on the third (never answered) at 800 + 300 ms.
    const server = await serve({ ping: (c, seq) => (c.n % 2 === 0 ? pong(c, seq) : seq < 3 && setTimeout(() => pong(c, seq), 400)) });
    const result = await runStream(server.url, `  hold: 800ms\n  stream: { every: 400ms, within: 300ms }\n`, { load: '  stages: [{ duration: 200ms, rate: 20 }]\n' });
    const m = result.summary.messages!;
    const n = perSocket(800, 400);
    expect(result.summary.totals.opened).toBe(4);
    expect({ sent: m.sent, replied: m.replied, late: m.late, lost: m.lost, lostByClose: m.lostByClose }).toEqual({ sent: 4 * n, replied: 2 * n, late: 2 * (n - 1), lost: 2, lostByClose: { '1000': 2 } });
    const lines = readMessages(result.outDir);
    for (const l of lines.filter((x) => x.r === 'late')) expect(l.rtt!).toBeGreaterThanOrEqual(399);
    for (const l of lines.filter((x) => x.r === 'lost')) expect(l).toMatchObject({ seq: n, code: 1000 });
    expectFilesAgree(result, expect);
  });
});

describe('session.stream against a server that never replies', () => {
  it('every message lost with 1000 after the drain: the socket stays `within` after the last send, then closes', async () => {
    const server = await serve({});
    const loop = watchLoop();
    const result = await runStream(server.url, `  hold: 300ms\n  stream: { every: 100ms, within: 200ms }\n`);
    loop.stop();
    const s = result.summary;
    const n = perSocket(300, 100);
    expect(s.messages).toMatchObject({ sent: 4 * n, replied: 0, late: 0, lost: 4 * n, lostByClose: { '1000': 4 * n } });
    expect(server.conns.map((c) => c.seqs.length)).toEqual([n, n, n, n]);
    // The last message goes at 300 ms (its own deadline), the drain ends 200 ms after it was sent
    // (a second deadline), then the closing handshake with the server (this thread).
    for (const e of readEventLines(result.outDir)) {
      expect(e.end - e.open!).toBeGreaterThanOrEqual(300 + 200);
      expect(e.end - e.open!).toBeLessThanOrEqual(atMost(300 + 200, s, { events: 1, deadlines: 2, fromSchedule: false, extraMs: loop.maxWaitMs() }));
    }
    expectFilesAgree(result, expect);
  });

  it('the drain ends as soon as every reply is in', async () => {
    const server = await serve({ ping: (c, seq) => setTimeout(() => pong(c, seq), 50) });
    const loop = watchLoop();
    const result = await runStream(server.url, `  hold: 300ms\n  stream: { every: 100ms, within: 2s }\n`);
    loop.stop();
    const s = result.summary;
    expect(s.messages).toMatchObject({ sent: 4 * 4, replied: 16, lost: 0 });
    // The last message at 300 ms, its reply 50 ms later (a Node timer on this thread: ≥ 49 ms), then close.
    for (const e of readEventLines(result.outDir)) {
      expect(e.end - e.open!).toBeGreaterThanOrEqual(300 + 49);
      expect(e.end - e.open!).toBeLessThanOrEqual(atMost(300 + 50, s, { events: 2, deadlines: 1, fromSchedule: false, extraMs: 1 + 2 * loop.maxWaitMs() }));
    }
  });

  it('the drain waits for the newest message: an older one already past its window does not cut it short', async () => {
    // The server never answers seq 1 (sent at open; its window ends at 1 s, before the hold's end
    // at 1.2 s) and answers the rest at once. The last message goes at the hold's end, with the
    // drain: its reply is awaited (a second of margin), replied, not lost.
    const server = await serve({ ping: (c, seq) => seq !== 1 && pong(c, seq) });
    const result = await runStream(server.url, `  hold: 1200ms\n  stream: { every: 400ms, within: 1s }\n`);
    const m = result.summary.messages!;
    expect({ sent: m.sent, replied: m.replied, lost: m.lost, lostByClose: m.lostByClose }).toEqual({ sent: 16, replied: 12, lost: 4, lostByClose: { '1000': 4 } });
    for (const l of readMessages(result.outDir).filter((x) => x.r === 'lost')) expect(l.seq).toBe(1);
    expectFilesAgree(result, expect);
  });
});

describe('hold: 0', () => {
  it('one message at open; the socket closes when its reply is in', async () => {
    const server = await serve({ ping: (c, seq) => pong(c, seq) });
    const result = await runStream(server.url, `  hold: 0ms\n  stream: { every: 100ms, within: 1s }\n`);
    expect(result.summary.messages).toMatchObject({ sent: 4, replied: 4, lost: 0 });
    expect(server.conns.map((c) => c.seqs)).toEqual([[1], [1], [1], [1]]);
    expect([...sentByAttempt(readMessages(result.outDir)).values()]).toEqual([0, 1, 2, 3].map(() => ({ sent: 1, replied: 1, late: 0, lost: 0 })));
    expectFilesAgree(result, expect);
  });
});

describe('session.stream.send placeholders', () => {
  it('${seq} and ${sentAt} are left for the engine when the scenario loads (elsewhere they are environment variables)', async () => {
    const text = (send: string) => `name: p\ntarget:\n  url: ws://127.0.0.1:1/ws\nload:\n  stages: [{ duration: 1s, rate: 1 }]\nsession:\n  stream: { send: '${send}' }\n  send: ['\${seq}']\n`;
    expect(() => parseScenarioText(text('{"seq":${seq},"at":${sentAt},"c":${conn}}'), 'p.yaml')).toThrow('session.send[0]: environment variable seq is not set');
    const ok = parseScenarioText(text('{"seq":${seq},"at":${sentAt},"c":${conn}}').replace("  send: ['${seq}']\n", ''), 'p.yaml');
    expect(ok.scenario.session.stream!.send).toBe('{"seq":${seq},"at":${sentAt},"c":${conn}}');
  });

  it('fills ${seq} as an integer and ${sentAt} with 3 decimals, the per-connection ones per connection', () => {
    const fixed = compileStreamTemplate('{"seq":${seq},"sentAt":${sentAt}}');
    expect(fixed(null, 7, 1234.5)).toBe('{"seq":7,"sentAt":1234.500}');
    expect(fixed(null, 1, 0.0004)).toBe('{"seq":1,"sentAt":0.000}');
    expect(fixed(null, 12, 98.7654)).toBe('{"seq":12,"sentAt":98.765}');
    const perConn = compileStreamTemplate('${conn}:${seq}@${sentAt}');
    expect(perConn({ conn: 3, worker: 0, user: null, env: {} }, 2, 10)).toBe('3:2@10.000');
  });
});

describe('an attempt given up without a close event (the worker’s last resort)', () => {
  it('still settles its stream: the messages outstanding are lost to 1006 before the record is reported', async () => {
    const server = await serve({});
    // 60 s of hold and 300 ms to close, a message every 50 ms (the scenario's own conversion).
    const text = `name: f\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 1s, rate: 1 }]\nsession:\n  hold: 60s\n  closeTimeout: 300ms\n  stream: { every: 50ms, within: 1s }\n`;
    const settings = connectionSettings(parseScenarioText(text, 'f.yaml').scenario);
    const entries: number[][] = [];
    let reported: AttemptRecord | null = null;
    const host: AttemptHost = {
      settings,
      workerIndex: 0,
      populationOver: false,
      expectRe: null,
      histograms: Object.fromEntries(METRICS.map((m) => [m, createHistogram()])) as Record<Metric, Histogram>,
      templates: compileTemplates(settings),
      sourcePorts: new SourcePorts(null),
      stream: compileStream(settings),
      t0: 0,
      // The worker's heap, on plain timers.
      streamTimer: (stream, due) => setTimeout(() => stream.fire(due), Math.max(0, due - Date.now())),
      messageEntry: (...entry) => entries.push(entry),
      opened() {},
      finished: (_a, rec) => (reported = structuredClone(rec)),
      watch: () => 0,
      unwatch() {},
      keepSchedule() {},
      recordStep() {},
      stepRegex: () => /$^/,
    };
    const attempt = new Attempt(host, 7, Date.now());
    attempt.start();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => server.conns[0]?.seqs.length >= 2 && (clearInterval(timer), resolve()), 5);
    });
    attempt.forceFinish();
    const sent = (attempt as unknown as { rec: AttemptRecord }).rec.msgs!.sent;
    expect(sent).toBeGreaterThanOrEqual(2);
    expect(reported!.msgs).toEqual({ sent, replied: 0, late: 0, lost: sent });
    expect(entries.filter((e) => e[4] === MSG_LOST && e[5] === 1006)).toHaveLength(sent);
    expect(entries.map((e) => e[1])).toEqual(Array.from({ length: sent }, (_, k) => k + 1));
  });
});
