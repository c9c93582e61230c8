import { cpSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario, type RunResult } from '../src/run/run.js';
import { mergeHlog, readHlog } from '../src/report/hlog.js';
import { compareRuns, loadRunSide, DEFAULT_COMPARE } from '../src/report/compare.js';
import { readSummary } from '../src/run/correlate.js';
import { NS_PER_MS } from '../src/record/histogram.js';
import { startTestServer, type Action, type TestServer } from './helpers/servers.js';
import { runCli } from './helpers/cli.js';
import { atMost, watchLoop, type LoopWatch } from './helpers/slack.js';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { phaseTable, renderSummary } from '../src/report/console.js';
import { roundTrip } from '../src/report/message-findings.js';
import { Recorder } from '../src/run/recorder.js';
import { MSG_LOST, MSG_REPLIED, type MessageLine } from '../src/record/messages.js';
import { progressLine } from '../src/cli/progress.js';
import { endedProgress, mergeProgress } from '../src/run/progress-merge.js';
import type { Progress } from '../src/run/recorder.js';
import { loadReportData } from '../src/report/html-data.js';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

const round3 = (ns: number) => Math.round((ns / NS_PER_MS) * 1000) / 1000;

let server: TestServer;
let regressed: TestServer;
/** The regressed server's delay of the 101: 30 ms, or three times the baseline's p99 on a machine so busy that 30 ms is within its noise. */
let regressionMs = 30;
let base: RunResult;
/** This thread, where both test servers answer, watched for the whole file. */
let loop: LoopWatch;
const root = mkdtempSync(join(tmpdir(), 'wsrace-reports-'));

const scenarioFor = (url: string, name = 'rep') =>
  parseScenarioText(`name: ${name}\ntarget:\n  url: ${url}\nload:\n  stages:\n    - { duration: 2500ms, rate: 80 }\nsession:\n  hold: 20ms\nthresholds:\n  - "totals.closeCodes.1011 == 0"\n  - "handshakeMs.p99 < 1ms"\n`, 'rep.yaml');

beforeAll(async () => {
  loop = watchLoop();
  server = await startTestServer(() => ({ kind: 'delay', ms: 5 }));
  // The injected regression: 10% closed with 1011, and a slower 101 (by regressionMs, read when each upgrade comes).
  regressed = await startTestServer((n): Action => (n % 10 === 0 ? { kind: 'close', code: 1011, reason: 'Service not ready: bridge' } : { kind: 'delay', ms: regressionMs }));
  base = await runScenario(scenarioFor(server.url), { outDir: join(root, 'rep', 'base'), workers: 2 });
});
afterAll(async () => {
  loop.stop();
  await server.close();
  await regressed.close();
});

describe('report files', () => {
  it('latency.hlog reads back with the same counts and percentiles as summary.json', () => {
    const hlog = join(base.outDir, 'latency.hlog');
    const text = readFileSync(hlog, 'utf8');
    expect(text.split('\n').slice(0, 4).join('\n')).toMatch(/^#\[Histogram log format version 1\.3\]\n#\[StartTime: [\d.]+ \(seconds since epoch\), .*\]\n#\[BaseTime: [\d.]+ \(seconds since epoch\)\]\n"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"$/);
    const intervals = readHlog(hlog);
    // One interval per second per metric: a 2.5 s run has at least 2 handshake intervals.
    expect(intervals.filter((i) => i.tag === 'handshake').length).toBeGreaterThanOrEqual(2);
    const s = base.summary;
    const handshake = mergeHlog(hlog, 'handshake');
    expect(handshake.totalCount).toBe(s.handshakeMs.count);
    expect(handshake.totalCount).toBe(200);
    expect(round3(handshake.getValueAtPercentile(50))).toBe(s.handshakeMs.p50);
    expect(round3(handshake.getValueAtPercentile(99))).toBe(s.handshakeMs.p99);
    expect(mergeHlog(hlog, 'schedule-lag').totalCount).toBe(s.scheduleLagMs.count);
    expect(mergeHlog(hlog, 'tcp').totalCount).toBe(s.tcpConnectMs.count);
    // The workers' loop delay: one sample per 2 ms tick while they ran.
    expect(s.loopDelayMs.count).toBeGreaterThan(100);
    expect(mergeHlog(hlog, 'loop-delay').totalCount).toBe(s.loopDelayMs.count);
    // No timeline: every attempt is in phase "unknown", and so is its tag.
    expect(mergeHlog(hlog, 'handshake.unknown').totalCount).toBe(200);
  });

  it('latency.hlog: each interval holds what its worker recorded in it, not what arrived in that second', async () => {
    const run = await runScenario(scenarioFor(server.url, 'hlog'), { outDir: join(root, 'hlog'), workers: 1 });
    const intervals = readHlog(join(run.outDir, 'latency.hlog'));
    const handshake = intervals.filter((i) => i.tag === 'handshake').sort((a, b) => a.endMs - b.endMs);
    const opens = readFileSync(join(run.outDir, 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).open as number | null).filter((o): o is number => o !== null);
    const t0 = run.summary.t0EpochMs;
    expect(handshake.length).toBeGreaterThanOrEqual(2);
    // Up to the end of every interval, the log holds the handshakes that opened by then: events
    // stamp open in ms from T0 (to the µs), the log its bounds to the ms, hence the 1 ms margins.
    let cumulative = 0;
    for (const interval of handshake) {
      cumulative += interval.histogram.totalCount;
      const end = interval.endMs - t0;
      expect(cumulative).toBeGreaterThanOrEqual(opens.filter((o) => o < end - 1).length);
      expect(cumulative).toBeLessThanOrEqual(opens.filter((o) => o < end + 1).length);
    }
    expect(cumulative).toBe(opens.length);
    // The per-phase tag goes out with the same worker intervals. (An attempt's phase goes with the
    // tick after it ended, its handshake with the tick after it opened: a round can hold only the
    // former, so the rounds' bounds are read from every metric, not the handshakes alone.)
    const bounds = new Set(intervals.filter((x) => !x.tag.startsWith('handshake.')).map((i) => `${i.startMs}-${i.endMs}`));
    for (const i of intervals.filter((x) => x.tag === 'handshake.unknown')) expect(bounds.has(`${i.startMs}-${i.endMs}`)).toBe(true);
    expect(mergeHlog(join(run.outDir, 'latency.hlog'), 'handshake.unknown').totalCount).toBe(opens.length);
  });

  it('a threshold on a phase the run never saw reads 0, and the findings say so', async () => {
    const text = `name: ph\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 500ms, rate: 20 }]\nsession:\n  hold: 0ms\nthresholds:\n  - "phases.websockt.closeCodes.1011 == 0"\n  - "phases.unknown.opened > 0"\n  - "disconnects.phases.dependencis.total == 0"\n`;
    const run = await runScenario(parseScenarioText(text, 'ph.yaml'), { outDir: join(root, 'ph'), workers: 1 });
    expect(run.summary.thresholds.map((t) => [t.ok, t.actual])).toEqual([[true, 0], [true, 10], [true, 0]]);
    expect(run.summary.findings).toContain('threshold "phases.websockt.closeCodes.1011 == 0" names phase "websockt", which this run never saw (its phases: unknown)');
    expect(run.summary.findings).toContain('threshold "disconnects.phases.dependencis.total == 0" names phase "dependencis", which this run never saw (its phases: unknown)');
    expect(run.summary.findings.filter((f) => f.includes('never saw'))).toHaveLength(2);
  });

  it('.hgrm rows parse as the plotter parses them', () => {
    const text = readFileSync(join(base.outDir, 'handshake.hgrm'), 'utf8');
    const rows = text.split('\n').filter((l) => l.trim() && !l.startsWith('#') && !l.includes('Percentile'));
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows.slice(0, -1)) {
      const cols = row.trim().split(/\s+/).map(Number);
      expect(cols).toHaveLength(4);
      expect(cols.every((c) => Number.isFinite(c))).toBe(true);
    }
    expect(text).toMatch(/#\[Mean\s+=\s+[\d.]+, StdDeviation\s+=\s+[\d.]+\]/);
    expect(text).toMatch(/#\[Max\s+=\s+[\d.]+, Total count\s+=\s+200\]/);
  });

  it('junit.xml has one case per threshold and the run; the failing threshold is a failure', () => {
    const xml = readFileSync(join(base.outDir, 'junit.xml'), 'utf8');
    expect(xml).toMatch(/<testsuite [^>]*tests="3"[^>]*failures="1"/);
    expect(xml).toContain('name="totals.closeCodes.1011 == 0"');
    expect(xml).toMatch(/<testcase [^>]*name="handshakeMs.p99 &lt; 1ms"[^>]*>\s*<failure message="expected handshakeMs.p99 &lt; 1ms, actual [\d.]+"/);
    expect(xml).toMatch(/name="run completed"[^>]*\/>/);
  });

  it('scenario.json and reports/<name>/latest', () => {
    expect(JSON.parse(readFileSync(join(base.outDir, 'scenario.json'), 'utf8')).load.stages[0].rate).toBe(80);
    expect(readlinkSync(join(root, 'rep', 'latest'))).toBe('base');
  });
});

describe('compare', () => {
  it('passes two equal runs and flags an injected regression', async () => {
    const same = await runScenario(scenarioFor(server.url), { outDir: join(root, 'rep', 'same'), workers: 2 });
    regressionMs = Math.min(1500, Math.max(30, Math.ceil(3 * base.summary.handshakeMs.p99!)));
    const worse = await runScenario(scenarioFor(regressed.url), { outDir: join(root, 'rep', 'worse'), workers: 2 });
    const side = (dir: string) => loadRunSide(dir, readSummary(dir));
    // A copy of a run is the same run.
    cpSync(base.outDir, join(root, 'copy'), { recursive: true });
    expect(compareRuns(side(base.outDir), side(join(root, 'copy'))).regressions).toEqual([]);
    // A partial run is said so; its attempts cut short are not failures.
    const cut = side(join(root, 'copy'));
    cut.summary = { ...cut.summary, partial: true, interruptedBy: 'SIGINT', totals: { ...cut.summary.totals, attempted: cut.summary.totals.attempted + 7, errors: { ...cut.summary.totals.errors, interrupted: 7 } } };
    const partial = compareRuns(side(base.outDir), cut);
    expect(partial.regressions).toEqual([]);
    expect(partial.rows[0].cand!.failureRate).toBe(partial.rows[0].base!.failureRate);
    expect(partial.warnings).toEqual(['the candidate is a partial run (SIGINT): it covers only part of its schedule, so its rates and percentiles are of that part']);
    // Two runs against the same server: equal outcomes; latency apart by no more than the two
    // runs' own lateness (a handshake waits on the connect and the 101, on both sides).
    const noise = (r: RunResult) => atMost(0, r.summary, { events: 2, extraMs: 2 * loop.maxWaitMs() });
    expect(compareRuns(side(base.outDir), side(same.outDir), { ...DEFAULT_COMPARE, latencyTolerancePct: 100, minLatencyDeltaMs: Math.max(noise(base), noise(same)) }).regressions).toEqual([]);
    const cmp = compareRuns(side(base.outDir), side(worse.outDir));
    expect(cmp.regressions).toContain('new outcome: close 1011 (absent in the baseline)');
    expect(cmp.regressions.some((r) => /^total: failure rate 0\.0% → 10\.0%/.test(r))).toBe(true);
    // The slower 101: the candidate's p50 is the server's delay plus at most that run's lateness, and
    // it is flagged, with the numbers compare read from the two runs.
    const [bp50, cp50] = [cmp.rows[0].base!.p[50]!, cmp.rows[0].cand!.p[50]!];
    expect(cmp.rows[0].scope).toBe('total');
    expect(cp50).toBeGreaterThanOrEqual(regressionMs);
    expect(cp50).toBeLessThanOrEqual(atMost(regressionMs, worse.summary, { events: 2, extraMs: 2 * loop.maxWaitMs() }));
    expect(bp50).toBeLessThanOrEqual(atMost(5, base.summary, { events: 2, extraMs: 2 * loop.maxWaitMs() }));
    expect(cp50 - bp50, 'the baseline ran so late that the injected delay is within its noise').toBeGreaterThan(Math.max(DEFAULT_COMPARE.minLatencyDeltaMs, (bp50 * DEFAULT_COMPARE.latencyTolerancePct) / 100));
    expect(cmp.regressions).toContain(`total: handshake p50 ${bp50.toFixed(2)} ms → ${cp50.toFixed(2)} ms (+${(((cp50 - bp50) / bp50) * 100).toFixed(0)}%, tolerance 10%)`);
    // Too few handshakes in a scope: its percentiles are not compared, and the note says so.
    const few = compareRuns(side(base.outDir), side(worse.outDir), { ...DEFAULT_COMPARE, minSamples: 1000 });
    expect(few.regressions.filter((r) => r.includes('handshake p'))).toEqual([]);
    expect(few.warnings).toContain('total: handshake percentiles not compared (200 and 200 handshakes, fewer than --min-samples 1000)');
    // The CLI exits 1 on it, 0 on equal runs, and `run --baseline` does the same comparison.
    expect((await runCli(['compare', base.outDir, worse.outDir])).code).toBe(1);
    const ok = await runCli(['compare', base.outDir, join(root, 'copy')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('No regression.');
    expect(existsSync(join(root, 'rep', 'latest'))).toBe(true);
  });

  it('run --baseline compares after the run and exits 1 on a regression; report re-renders from the files', async () => {
    const file = join(root, 'worse.yaml');
    writeFileSync(file, `name: rep\ntarget:\n  url: ${regressed.url}\nload:\n  stages:\n    - { duration: 1s, rate: 40 }\nsession:\n  hold: 20ms\n`);
    const r = await runCli(['run', file, '--quiet', '--out', join(root, 'rep', 'cand'), '--baseline', base.outDir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`Compared with ${base.outDir}`);
    expect(r.stdout).toContain('new outcome: close 1011 (absent in the baseline)');
    const missing = await runCli(['run', file, '--quiet', '--out', join(root, 'rep', 'cand2'), '--baseline', join(root, 'nope')]);
    expect(missing.stderr).toContain('no such run folder yet; running without a comparison');
    rmSync(join(base.outDir, 'report.html'));
    const rep = await runCli(['report', base.outDir]);
    expect(rep.code).toBe(1); // its threshold failed
    expect(rep.stdout).toContain('Verdict: FAIL');
    expect(readFileSync(join(base.outDir, 'report.html'), 'utf8')).toContain('<!doctype html>');
  });
});

// ---------------------------------------------------------------- session.stream's messages

/**
 * A stream peer on 127.0.0.1: answers each message with `{"type":"pong","seq":n}` after `delayMs`,
 * except the ones `drop(seq)` picks, which it never answers; counts what it received and dropped.
 */
async function startStreamServer(delayMs: number, drop: (seq: number) => boolean) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
  const counts = { received: 0, dropped: 0 };
  wss.on('connection', (ws) =>
    ws.on('message', (data) => {
      const seq = (JSON.parse(data.toString()) as { seq: number }).seq;
      counts.received++;
      if (drop(seq)) {
        counts.dropped++;
        return;
      }
      const reply = () => ws.send(`{"type":"pong","seq":${seq}}`);
      if (delayMs > 0) setTimeout(reply, delayMs);
      else reply();
    }),
  );
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    counts,
    close: () => new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close(() => resolve());
    }),
  };
}

const streamScenario = (url: string, name: string) =>
  parseScenarioText(`name: ${name}\ntarget:\n  url: ${url}\nload:\n  stages:\n    - { duration: 1s, rate: 40 }\nsession:\n  hold: 300ms\n  stream: { every: 50ms, within: 1s }\n`, `${name}.yaml`);

describe('messages in the reports', () => {
  type StreamServer = Awaited<ReturnType<typeof startStreamServer>>;
  let quick: StreamServer;
  let lossy: StreamServer;
  let good: RunResult;
  let bad: RunResult;
  /**
   * The lossy server replies this late, never to each socket's second message: at least 20 ms,
   * and three times the good run's p99 round trip, so that on a busy machine the rise still
   * stands clear of the baseline's own noise.
   */
  let DELAY_MS = 20;
  beforeAll(async () => {
    quick = await startStreamServer(0, () => false);
    good = await runScenario(streamScenario(quick.url, 'msg'), { outDir: join(root, 'msg', 'good'), workers: 1 });
    // At most half the stream's `within` (1 s), so the replies are never late.
    DELAY_MS = Math.min(500, Math.max(DELAY_MS, Math.ceil(3 * (good.summary.messages?.rttMs.p99 ?? 0))));
    lossy = await startStreamServer(DELAY_MS, (seq) => seq === 2);
    bad = await runScenario(streamScenario(lossy.url, 'msg'), { outDir: join(root, 'msg', 'bad'), workers: 1 });
  }, 60_000);
  afterAll(async () => {
    await quick?.close();
    await lossy?.close();
  });

  it('findings: the loss in plain words, with the close code that took them', () => {
    const m = bad.summary.messages!;
    expect(m.sent).toBe(lossy.counts.received);
    expect(m.lost).toBe(lossy.counts.dropped);
    expect(lossy.counts.dropped).toBe(40); // one per socket
    expect(m.lostByClose).toEqual({ '1000': 40 });
    expect(bad.summary.findings).toContain('40 messages were never answered: their socket closed 1000 (normally) with them outstanding');
    const sentence = bad.summary.findings.find((f) => f.includes('messages sent in the run'));
    expect(sentence).toBe(`40 of ${m.sent.toLocaleString('en-US')} messages sent in the run were lost (${((4000 / m.sent)).toFixed(1)}%); round-trip p50 ${roundTrip(m.rttMs.p50!)}, p99 ${roundTrip(m.rttMs.p99!)}`);
    expect(good.summary.findings.find((f) => f.includes('messages sent in the run'))).toMatch(/^the [\d,]+ messages sent in the run were all answered in time; round-trip p50 /);
  });

  it('the console: a messages section, and sent / lost / p99 rtt in the phase table', () => {
    const m = bad.summary.messages!;
    const text = renderSummary(bad.summary);
    const pct = (n: number) => `${((100 * n) / m.sent).toFixed(1)}%`;
    const section = text.slice(text.indexOf('Messages (session.stream)')).split('\n');
    expect(section.slice(0, 7)).toEqual([
      'Messages (session.stream)',
      `  sent                ${m.sent.toLocaleString('en-US').padStart(9)}`,
      `    replied           ${m.replied.toLocaleString('en-US').padStart(9)}  ${pct(m.replied).padStart(6)}`,
      `    late                      0    0.0%`,
      `    lost                     40  ${pct(40).padStart(6)}  no reply by the socket's end`,
      `      closed 1000            40  ${pct(40).padStart(6)}  closed normally with replies outstanding`,
      '',
    ]);
    expect(section[7]).toMatch(/^ {2}message \(ms\) +count +min +p50 +p90 +p99 +p99\.9 +max$/);
    expect(section[8]).toMatch(new RegExp(`^ {2}round trip +${m.rttMs.count} `));
    expect(section[9]).toMatch(new RegExp(`^ {2}send lag +${m.sendLagMs.count} `));
    const withTimeline = { ...bad.summary, timeline: [{ phase: 'unknown', startMs: 0, endMs: null }] };
    const table = phaseTable(withTimeline);
    expect(table[0]).toMatch(/ p99 hs +sent +lost +p99 rtt$/);
    const u = bad.summary.phases.unknown.messages!;
    expect(table[1].trim().split(/\s+/).slice(-3)).toEqual([u.sent.toLocaleString('en-US'), '40', String(u.rttMs.p99!.toFixed(u.rttMs.p99! >= 100 ? 0 : u.rttMs.p99! >= 10 ? 1 : 2))]);
    // A run without a stream: neither.
    expect(renderSummary(base.summary)).not.toContain('Messages');
    expect(phaseTable({ ...base.summary, timeline: withTimeline.timeline })[0]).toMatch(/ p99 hs$/);
  });

  it('compare: a rise in message loss and round trip is a regression; the CLI exits 1 on it alone', async () => {
    const side = (dir: string) => loadRunSide(dir, readSummary(dir));
    const cmp = compareRuns(side(good.outDir), side(bad.outDir));
    const [gm, bm] = [good.summary.messages!, bad.summary.messages!];
    const loss = ((100 * bm.lost) / bm.sent).toFixed(1);
    expect(cmp.messages.map((r) => r.scope)).toEqual(['total', 'phase unknown']);
    expect(cmp.messages[0].base).toMatchObject({ sent: gm.sent, lost: 0, late: 0, lossRate: 0 });
    expect(cmp.messages[0].cand).toMatchObject({ sent: bm.sent, lost: 40, late: 0, lossRate: 40 / bm.sent });
    expect(cmp.regressions).toContain(`total: message loss 0.0% → ${loss}% (+${loss} pp, tolerance 1 pp)`);
    expect(cmp.regressions).toContain(`phase unknown: message loss 0.0% → ${loss}% (+${loss} pp, tolerance 1 pp)`);
    // The delay the server waits before each reply: in the candidate's p50, flagged, with the numbers compare read.
    const [bp50, cp50] = [cmp.messages[0].base!.p[50]!, cmp.messages[0].cand!.p[50]!];
    expect(cp50).toBeGreaterThanOrEqual(DELAY_MS);
    expect(cp50 - bp50, 'the baseline ran so late that the delay is within its noise').toBeGreaterThan(Math.max(DEFAULT_COMPARE.minLatencyDeltaMs, (bp50 * DEFAULT_COMPARE.latencyTolerancePct) / 100));
    expect(cmp.regressions).toContain(`total: message round-trip p50 ${bp50.toFixed(2)} ms → ${cp50.toFixed(2)} ms (+${(((cp50 - bp50) / bp50) * 100).toFixed(0)}%, tolerance 10%)`);
    // The handshakes (40 a side) are too few to compare: the messages alone make the regression.
    expect(cmp.regressions.filter((r) => !r.includes('message'))).toEqual([]);
    // The per-phase round trips come from messages.ndjson: the same replies as the whole run's.
    expect(side(bad.outDir).messages!.phases.get('unknown')!.totalCount).toBe(bm.rttMs.count);
    // Too few replies: the round trips are not compared, and the note says so; the loss still is.
    const few = compareRuns(side(good.outDir), side(bad.outDir), { ...DEFAULT_COMPARE, minSamples: 100_000 });
    expect(few.regressions.filter((r) => r.includes('round-trip'))).toEqual([]);
    expect(few.regressions).toContain(`total: message loss 0.0% → ${loss}% (+${loss} pp, tolerance 1 pp)`);
    expect(few.warnings).toContain(`total: message round-trip percentiles not compared (${gm.rttMs.count} and ${bm.rttMs.count} replies, fewer than --min-samples 100000)`);
    // One side without a stream: said, not compared.
    const mixed = compareRuns(side(base.outDir), side(good.outDir));
    expect(mixed.messages).toEqual([]);
    expect(mixed.warnings).toContain('the baseline has no message stream (session.stream): messages are not compared');
    expect(compareRuns(side(good.outDir), side(base.outDir)).warnings).toContain('the candidate has no message stream (session.stream): messages are not compared');
    expect(compareRuns(side(base.outDir), side(base.outDir)).warnings.filter((w) => w.includes('stream'))).toEqual([]);
    const worse = await runCli(['compare', good.outDir, bad.outDir]);
    expect(worse.code).toBe(1);
    expect(worse.stdout).toMatch(/\n {2}messages +sent +lost % +late +rtt p50 ms +rtt p90 ms +rtt p99 ms\n {2}total +/);
    expect(worse.stdout).toContain(`  ✗ total: message loss 0.0% → ${loss}%`);
    const same = await runCli(['compare', good.outDir, good.outDir]);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('No regression.');
  });

  it('report.html: the messages by the bucket they were sent in, from messages.ndjson; a run without a stream has none', async () => {
    const m = bad.summary.messages!;
    const data = await loadReportData(bad.outDir);
    const series = data.messagesOverTime!;
    const bucketMs = data.perSecond.bucketS * 1000;
    expect(data.badMessageLines).toBe(0);
    // Each line of messages.ndjson counted in the bucket of its send time, as the file has it.
    const lines = readFileSync(join(bad.outDir, 'messages.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MessageLine);
    const first = Math.round(series.t[0] / data.perSecond.bucketS);
    const expected = { sent: series.t.map(() => 0), lost: series.t.map(() => 0), late: series.t.map(() => 0) };
    const maxRtt = series.t.map(() => -Infinity);
    const replies = series.t.map(() => 0);
    expect(lines.every((l) => l.sent !== undefined), 'only messages sent: no duplicate or unmatched replies here').toBe(true);
    for (const l of lines) {
      const k = Math.floor(l.sent! / bucketMs) - first;
      expected.sent[k]++;
      if (l.r === 'lost') expected.lost[k]++;
      if (l.r === 'late') expected.late[k]++;
      if (l.rtt === undefined) continue;
      maxRtt[k] = Math.max(maxRtt[k], l.rtt);
      replies[k]++;
    }
    expect({ sent: series.sent, lost: series.lost, late: series.late }).toEqual(expected);
    expect([sum(series.sent), sum(series.lost), sum(series.late)]).toEqual([m.sent, 40, 0]);
    // Every reply waited the server's delay; in a bucket of at most 100 replies p99 is the largest (nearest rank), exact.
    for (const [k, p50] of series.p50.entries()) {
      expect(p50 === null, `bucket ${k}`).toBe(replies[k] === 0);
      if (p50 === null) continue;
      // The page's percentiles come from log bins: within 1% of the exact value.
      expect(p50, `bucket ${k}`).toBeGreaterThanOrEqual(DELAY_MS * 0.99);
      if (replies[k] <= 100) expect(series.p99[k], `bucket ${k}`).toBe(Math.round(maxRtt[k] * 1000) / 1000);
      else expect(series.p99[k], `bucket ${k}`).toBeLessThanOrEqual(Math.round(maxRtt[k] * 1000) / 1000);
    }
    // The report.html the run wrote carries the same series; the run without a stream's carries none.
    const embedded = (dir: string) => (JSON.parse(/<script type="application\/json" id="data">([^<]*)<\/script>/.exec(readFileSync(join(dir, 'report.html'), 'utf8'))![1]) as { report: Record<string, unknown> }).report;
    expect(embedded(bad.outDir).messagesOverTime).toEqual(series);
    expect(sum((embedded(good.outDir).messagesOverTime as { lost: number[] }).lost)).toBe(0);
    expect('messagesOverTime' in embedded(base.outDir)).toBe(false);
    const plain = await loadReportData(base.outDir);
    expect(['messagesOverTime' in plain, 'badMessageLines' in plain]).toEqual([false, false]);
  });

  it('the progress line: messages per second and lost so far, only with a stream', async () => {
    const open1 = { sockets: 1, clients: 0 };
    const dir = mkdtempSync(join(root, 'progress-'));
    const recorder = new Recorder(dir, 1, 1000, true);
    const entry = (kind: number, code = 0) => [3, 1, 1500, kind === MSG_LOST ? -1 : 2.5, kind, code, 0];
    recorder.messages(0, Float64Array.from([...entry(MSG_REPLIED), ...entry(MSG_LOST, 1011), ...entry(MSG_REPLIED)]));
    const first = recorder.progress(10, open1);
    expect(first.messages).toEqual({ perSecond: 3, lost: 1 });
    recorder.messages(0, Float64Array.from(entry(MSG_LOST, 1006)));
    expect(recorder.progress(10, open1).messages).toEqual({ perSecond: 1, lost: 2 });
    expect(recorder.progress(10, open1).messages).toEqual({ perSecond: 0, lost: 2 });
    await recorder.close();
    const plain = new Recorder(mkdtempSync(join(root, 'progress-')), 1, 1000, false);
    expect(plain.progress(10, open1).messages).toBeUndefined();
    await plain.close();
    const line = { elapsedMs: 2000, scheduled: 10, attempted: 4, perSecond: 2, openNow: 1, opened: 3, failures: { '1011': 1 } };
    expect(progressLine({ ...line, messages: { perSecond: 1234, lost: 5 } })).toBe('  2.00s  4/10 attempts  2/s  open 1  msgs 1234/s lost 5  1011:1');
    expect(progressLine(line)).toBe('  2.00s  4/10 attempts  2/s  open 1  1011:1');
    // Reconnecting clients: retries apart from the schedule's attempts, and the cuts.
    expect(progressLine({ ...line, attempted: 9, clients: { retries: 5, drops: 3 } })).toBe('  2.00s  4/10 attempts +5 retries  2/s  open 1  cut 3  1011:1');
    // A population: its clients connected now; and the phase the timeline is in.
    expect(progressLine({ ...line, openNow: 5003, population: { connected: 4980, clients: 5000 }, phase: 'dependencies' })).toBe('  2.00s  [dependencies]  4/10 attempts  2/s  open 5003  connected 4980/5000  1011:1');
  });

  it('--processes: the shards\' latest progress added up, the furthest time, the watching shard\'s phase', () => {
    const shard = (k: number): Progress => ({ elapsedMs: 1000 + k, scheduled: 10, attempted: 4 + k, perSecond: 2, openNow: 3, opened: 5, failures: { '1011': k + 1 }, population: { connected: 3, clients: 5 }, clients: { retries: k, drops: 1 }, ...(k === 0 ? { phase: 'ready', messages: { perSecond: 7, lost: 1 } } : {}) });
    expect(mergeProgress([])).toBeNull();
    expect(mergeProgress([shard(0), shard(1), shard(2)])).toEqual({
      elapsedMs: 1002, scheduled: 30, attempted: 15, perSecond: 6, openNow: 9, opened: 15, failures: { '1011': 6 },
      population: { connected: 9, clients: 15 }, clients: { retries: 3, drops: 3 }, phase: 'ready', messages: { perSecond: 7, lost: 1 },
    });
    // A shard that ended keeps its counts; nothing of it is open or going on any more.
    expect(mergeProgress([endedProgress(shard(0)), shard(1)])).toMatchObject({ attempted: 9, perSecond: 2, openNow: 3, population: { connected: 3, clients: 10 }, messages: { perSecond: 0, lost: 1 } });
  });

  it('progress: a population counts the clients whose socket the workers hold open; the phase once the timeline has one', async () => {
    const recorder = new Recorder(mkdtempSync(join(root, 'progress-')), 1, 1000, false);
    expect(recorder.progress(10, { sockets: 7, clients: 5 }, 6)).toMatchObject({ openNow: 7, population: { connected: 5, clients: 6 } });
    expect(recorder.progress(10, { sockets: 7, clients: 0 }, 0).population).toBeUndefined();
    recorder.begin(1000, { timeline: () => ({ spans: [{ phase: 'init', startMs: 0, endMs: null }], readyAtMs: null, failedAtMs: null }) });
    expect(recorder.progress(10, { sockets: 0, clients: 0 }).phase).toBe('init');
    await recorder.close();
  });
});
