import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../src/record/attempt.js';
import { createHistogram, latencyStats, recordMs } from '../src/record/histogram.js';
import { addAttempt, emptyTotals } from '../src/record/totals.js';
import { percentileDistribution } from '../src/report/hgrm.js';
import { loadReportData, percentilePoints, phaseBands, ReportAccumulator, type ReportData } from '../src/report/html-data.js';
import { embedJson, escapeHtml, renderHtmlReport } from '../src/report/html.js';
import { SUMMARY_SCHEMA, type Summary } from '../src/report/summary.js';
import { PhaseAttributor, type EventLine } from '../src/timeline/phase-report.js';
import { findChromium } from './helpers/browser.js';
import { MessageAccumulator, RTT_BIN_RATIO } from '../src/report/html-messages.js';
import { MessageAttributor } from '../src/timeline/message-report.js';
import { emptyMessageCounts, mergeMessageCounts, type MessageLine } from '../src/record/messages.js';

const HOSTILE_REASON = '<script>window.__pwned=1</script>';
const HOSTILE_SCENARIO_NAME = 'racy <b>cold</b> start';
const HOSTILE_URL = 'ws://127.0.0.1:9/ws?room=<img src=x onerror="window.__pwned=3">';
const HOSTILE_PHASE = 'migrate&<seed>';

// ---------------------------------------------------------------- fixture: a small run folder

type Ev = Omit<EventLine, 'i' | 'w' | 'tcp' | 'up' | 'first'>;
const refused = (sched: number): Ev => ({ sched, start: sched, open: null, end: sched + 1, outcome: 'refused' });
const http = (sched: number, status: number): Ev => ({ sched, start: sched, open: null, end: sched + 2, outcome: 'http', status });
const close = (sched: number, hs: number, code: number, reason?: string): Ev => ({
  sched,
  start: sched,
  open: sched + hs,
  end: sched + hs + 5,
  outcome: 'close',
  code,
  ...(reason ? { reason } : {}),
  serverClosed: code !== 1000,
});
const other = (sched: number, outcome: EventLine['outcome'], hs: number | null = null, err?: string): Ev => ({
  sched,
  start: outcome === 'dropped' ? null : sched,
  open: hs === null ? null : sched + hs,
  end: sched + 50,
  outcome,
  ...(err ? { err } : {}),
});

/** Scheduled starts (ms since T0) across unknown, init, dependencies, migrate&<seed>, ready. */
const EVENTS: Ev[] = [
  // second 0: unknown (before 400) then init
  refused(100), refused(200), refused(300), refused(500), refused(700), http(900, 503),
  // second 1: init then dependencies (1500)
  http(1100, 503), http(1300, 503), close(1600, 10, 1011, HOSTILE_REASON), close(1800, 5, 1011, 'Service not ready: db'), http(1900, 403),
  // second 2: dependencies then migrate (2600)
  close(2100, 4, 1011, HOSTILE_REASON), other(2300, 'reset'), close(2650, 10, 1006), other(2800, 'handshake_timeout'), close(2950, 6, 1011, 'Service not ready: db'),
  // second 3: migrate then ready (3200)
  close(3100, 3, 1011, 'Service not ready: db'), other(3250, 'expect_timeout', 12), close(3300, 5, 1000), close(3500, 2, 1000), close(3700, 20, 1000), close(3900, 3, 1000),
  // second 4
  close(4100, 2, 1000), close(4300, 3, 1000), close(4500, 4, 1000), close(4700, 5, 1000), close(4900, 40, 1000), other(4950, 'error', null, 'EMFILE'),
  // second 5
  other(5050, 'dropped'), other(5200, 'interrupted', 3),
];

const T0 = 1_795_000_000_000.25;
const TIMELINE = [
  { phase: 'init', startMs: 400, endMs: 1500 },
  { phase: 'dependencies', startMs: 1500, endMs: 2600 },
  { phase: HOSTILE_PHASE, startMs: 2600, endMs: 3200 },
  { phase: 'ready', startMs: 3200, endMs: null },
];

function eventLines(): EventLine[] {
  return EVENTS.map((e, i) => ({ i, w: i % 2, tcp: null, up: null, first: null, ...e }) as EventLine);
}

/** summary.json for EVENTS, every field of Summary; counts and phase blocks computed by the real code. */
function fixtureSummary(events: EventLine[]): Summary {
  const attributor = new PhaseAttributor({ spans: TIMELINE, readyAtMs: 3200, failedAtMs: null });
  const totals = emptyTotals();
  const hs = createHistogram();
  const hsFail = createHistogram();
  for (const e of events) {
    e.phase = attributor.add(e);
    addAttempt(totals, e as unknown as AttemptRecord);
    if (e.open !== null) recordMs(hs, e.open - e.sched);
    else if (e.outcome !== 'dropped') recordMs(hsFail, e.end - e.sched);
  }
  const a = attributor.result();
  const stats = (h: ReturnType<typeof createHistogram>) => latencyStats(h);
  const empty = stats(createHistogram());
  return {
    schema: SUMMARY_SCHEMA,
    scenario: HOSTILE_SCENARIO_NAME,
    scenarioFile: 'scenarios/<hostile>.yaml',
    target: { url: HOSTILE_URL, headers: { 'x-trace': '"><svg onload=window.__pwned=4>' }, subprotocols: ['chat'] },
    startedAt: new Date(T0 - 500).toISOString(),
    t0: new Date(T0).toISOString(),
    t0EpochMs: T0,
    readyFrom: 'health',
    durationMs: 5400,
    partial: true,
    interruptedBy: 'SIGINT <ctrl-c>',
    workers: [
      { worker: 0, scheduled: 15, error: null },
      { worker: 1, scheduled: 15, error: null },
    ],
    limits: { openFiles: 1024, maxSockets: 960 },
    shard: null,
    schedule: { scheduled: 30, durationMs: 5000, startAfterMs: 0, peakRate: 10, onReadyBurst: 0 },
    findings: [
      `2 connections closed 1011 \`${HOSTILE_REASON}\` before ready`,
      'no WebSocket connection worked for 3.20 s (attempts scheduled +0.10 s to +3.30 s)',
      '/health reported ready at +3.20 s',
    ],
    totals,
    handshakeMs: stats(hs),
    handshakeFailMs: stats(hsFail),
    tcpConnectMs: empty,
    upgradeMs: empty,
    tlsHandshakeMs: empty,
    firstMessageMs: empty,
    scheduleLagMs: empty,
    loopDelayMs: empty,
    serverCloseAfterMs: empty,
    ready: { atMs: 3200, source: 'health', signals: { health: 3200, log: null, supplied: null } },
    timeline: TIMELINE,
    health: { probes: 20, firstAnswerMs: 800, first2xxMs: 3200, spans: [{ status: 503, startMs: 800, endMs: 3200 }, { status: 200, startMs: 3200, endMs: 5400 }] },
    failed: null,
    targetExit: null,
    phases: a.phases,
    beforeReady: a.beforeReady,
    afterReady: a.afterReady,
    outage: a.outage,
    disconnects: a.disconnects,
    thresholds: [
      { expr: 'totals.closeCodes.1011 == 0', ok: false, actual: 5 },
      { expr: 'handshakeMs.p99 < 500ms', ok: true, actual: 40 },
    ],
    verdict: 'fail',
  };
}

const SCENARIO = {
  name: HOSTILE_SCENARIO_NAME,
  target: { url: HOSTILE_URL, headers: { 'x-note': '</script><script>window.__pwned=2</script><!--' } },
  load: { stages: [{ duration: 5000, rate: 10 }] },
};

function writeRunFolder(dir: string, withScenario = true): void {
  const events = eventLines();
  const summary = fixtureSummary(events);
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2));
  // A torn last line, as a killed run can leave: counted, not fatal.
  writeFileSync(join(dir, 'events.ndjson'), events.map((e) => JSON.stringify(e)).join('\n') + '\n{"i":99,"sched":12');
  if (withScenario) writeFileSync(join(dir, 'scenario.json'), JSON.stringify(SCENARIO, null, 2));
}

// ---------------------------------------------------------------- fixture: the same run with a stream

/** messages.ndjson: sent (ms since T0) in init, dependencies, migrate and ready, with every fate. */
const MESSAGES: MessageLine[] = [
  { i: 8, r: 'lost', seq: 1, sent: 1610, code: 1011 },
  { i: 9, r: 'lost', seq: 1, sent: 1805, code: 1011 },
  { i: 11, r: 'replied', seq: 1, sent: 2104, rtt: 3 },
  { i: 11, r: 'lost', seq: 2, sent: 2204, code: 1011 },
  { i: 13, r: 'replied', seq: 1, sent: 2660, rtt: 250 },
  { i: 13, r: 'late', seq: 2, sent: 2760, rtt: 2400 },
  { i: 13, r: 'lost', seq: 3, sent: 2860, code: 1006 },
  { i: 16, r: 'lost', seq: 1, sent: 3103, code: 1011 },
  { i: 18, r: 'replied', seq: 1, sent: 3305, rtt: 40 },
  { i: 18, r: 'replied', seq: 2, sent: 3405, rtt: 12, ooo: true },
  { i: 19, r: 'replied', seq: 1, sent: 3502, rtt: 1.5 },
  { i: 19, r: 'lost', seq: 2, sent: 3602, code: 1000 },
  { i: 20, r: 'replied', seq: 1, sent: 3720, rtt: 2.25 },
  { i: 18, r: 'duplicate', seq: 2, at: 3500 },
  { i: 21, r: 'replied', seq: 1, sent: 4100, rtt: 0.8 },
  { i: 21, r: 'replied', seq: 2, sent: 4200, rtt: 0.9 },
  { i: 22, r: 'replied', seq: 1, sent: 4301, rtt: 1.1 },
  { i: 23, r: 'replied', seq: 1, sent: 4502, rtt: 0.7 },
  { i: 24, r: 'unmatched', at: 4600 },
  { i: 25, r: 'replied', seq: 1, sent: 4705, rtt: 1.3 },
  { i: 26, r: 'replied', seq: 1, sent: 4902, rtt: 0.6 },
  { i: 26, r: 'replied', seq: 2, sent: 5002, rtt: 0.65 },
];

/** summary.json with the stream's blocks, computed by the real attribution code. */
function streamSummary(events: EventLine[]): Summary {
  const s = fixtureSummary(events);
  const attributor = new MessageAttributor({ spans: TIMELINE, readyAtMs: 3200, failedAtMs: null });
  for (const m of MESSAGES) m.phase = attributor.add({ ...m });
  const a = attributor.result();
  for (const [phase, block] of Object.entries(a.phases)) s.phases[phase].messages = block;
  s.beforeReady.messages = a.beforeReady;
  s.afterReady.messages = a.afterReady;
  const rtt = createHistogram();
  const lag = createHistogram();
  for (const m of MESSAGES) {
    if (m.rtt !== undefined) recordMs(rtt, m.rtt);
    if (m.sent !== undefined) recordMs(lag, 0.5);
  }
  const whole = mergeMessageCounts(mergeMessageCounts(emptyMessageCounts(), a.beforeReady), a.afterReady);
  s.messages = { ...whole, rttMs: latencyStats(rtt), sendLagMs: latencyStats(lag), firstAfterReady: a.firstAfterReady, laterAfterReady: a.laterAfterReady };
  return s;
}

function writeStreamRunFolder(dir: string): void {
  const events = eventLines();
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(streamSummary(events), null, 2));
  writeFileSync(join(dir, 'events.ndjson'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  // A torn last line here too: counted, not fatal.
  writeFileSync(join(dir, 'messages.ndjson'), MESSAGES.map((m) => JSON.stringify(m)).join('\n') + '\n{"i":27,"r":"repl');
}

const dir = mkdtempSync(join(tmpdir(), 'wsrace-report-html-'));
const streamDir = mkdtempSync(join(tmpdir(), 'wsrace-report-html-stream-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(streamDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- pure data

describe('report data', () => {
  let data: ReportData;
  beforeAll(async () => {
    writeRunFolder(dir);
    data = await loadReportData(dir, { bucketMs: 1000 }); // whole seconds: the expected arrays below
  });

  it('buckets attempts by the second of their scheduled start, one series per outcome', () => {
    expect(data.perSecond).toEqual({
      t: [0, 1, 2, 3, 4, 5],
      opened: [0, 0, 0, 4, 5, 0],
      c1011: [0, 2, 2, 1, 0, 0],
      otherClose: [0, 0, 1, 0, 0, 0],
      http503: [1, 2, 0, 0, 0, 0],
      otherHttp: [0, 1, 0, 0, 0, 0],
      refused: [5, 0, 0, 0, 0, 0],
      timeouts: [0, 0, 1, 1, 0, 0],
      other: [0, 0, 1, 0, 1, 2],
      retries: [0, 0, 0, 0, 0, 0],
      bucketS: 1,
    });
    const all = Object.entries(data.perSecond).filter(([k]) => k !== 't' && k !== 'retries' && k !== 'bucketS').flatMap(([, v]) => v as number[]);
    expect(all.reduce((a, b) => a + b, 0)).toBe(EVENTS.length); // every attempt in exactly one series
    expect(data.badEventLines).toBe(1);
    expect(data.scenario).toEqual(SCENARIO);
  });

  it('handshake p50/p99 per second are exact nearest-rank values, null where nothing opened', () => {
    expect(data.handshakeOverTime).toEqual({
      t: [0, 1, 2, 3, 4, 5],
      count: [0, 2, 3, 6, 5, 1],
      p50: [null, 5, 6, 3, 4, 3],
      p99: [null, 10, 10, 20, 40, 3],
    });
  });

  it('the distribution is the .hgrm percentile iteration of the opened handshakes', () => {
    const d = data.distribution;
    expect(d[0].percentile).toBe(0);
    expect(d[d.length - 1].percentile).toBe(100);
    expect(d[d.length - 1].count).toBe(17); // every attempt that opened, interrupted one included
    for (let i = 1; i < d.length; i++) {
      expect(d[i].percentile).toBeGreaterThan(d[i - 1].percentile);
      expect(d[i].valueMs).toBeGreaterThanOrEqual(d[i - 1].valueMs);
      expect(d[i].count).toBeGreaterThanOrEqual(d[i - 1].count);
    }
    expect(d.slice(0, 8).map((p) => p.percentile)).toEqual([0, 10, 20, 30, 40, 50, 55, 60]);
    expect(d.find((p) => p.percentile === 75)).toBeDefined();
    expect(d.find((p) => p.percentile === 87.5)).toBeDefined();

    // Same rows as the .hgrm file wsrace writes for the same values.
    const h = createHistogram();
    for (const e of EVENTS) if (e.open !== null) recordMs(h, e.open - e.sched);
    const rows = percentileDistribution(h)
      .split('\n')
      .filter((l) => /^\s+\d/.test(l))
      .map((l) => l.trim().split(/\s+/).map(Number));
    expect(d.map((p) => [p.valueMs, p.percentile / 100, p.count])).toEqual(rows.map(([v, p, c]) => [v, p, c]));
    expect(percentilePoints(createHistogram())).toEqual([]);
  });

  it('phase bands: timeline spans in seconds, open end at run end, unknown before the first phase', () => {
    expect(phaseBands(data.summary)).toEqual([
      { phase: 'unknown', startS: 0, endS: 0.4 },
      { phase: 'init', startS: 0.4, endS: 1.5 },
      { phase: 'dependencies', startS: 1.5, endS: 2.6 },
      { phase: HOSTILE_PHASE, startS: 2.6, endS: 3.2 },
      { phase: 'ready', startS: 3.2, endS: 5.4 },
    ]);
    expect(phaseBands({ timeline: [], durationMs: 1000 })).toEqual([]);
  });

  it('spans the whole run and includes attempts scheduled before T0', () => {
    const acc = new ReportAccumulator();
    acc.add({ sched: -1500, open: -1490, outcome: 'close', code: 1000 });
    acc.add({ sched: 1200, open: null, outcome: 'http', status: 503 });
    const r = acc.result(4200);
    expect(r.perSecond.t).toEqual([-2, -1, 0, 1, 2, 3, 4]);
    expect(r.perSecond.opened).toEqual([1, 0, 0, 0, 0, 0, 0]);
    expect(r.perSecond.http503).toEqual([0, 0, 0, 1, 0, 0, 0]);
    expect(r.handshakeOverTime.p50).toEqual([10, null, null, null, null, null, null]);
  });
});

/** Nearest-rank percentile of `values`, as the handshake chart computes it exactly. */
function exactRank(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];
}

describe('report data: messages (session.stream)', () => {
  let data: ReportData;
  beforeAll(async () => {
    writeStreamRunFolder(streamDir);
    data = await loadReportData(streamDir, { bucketMs: 1000 });
  });

  it('counts each message by the bucket it was sent in: sent, lost, late; round trips within 1%, exact at the maximum', () => {
    const m = data.messagesOverTime!;
    expect(m.t).toEqual(data.perSecond.t); // the attempts' buckets: the charts line up
    expect(m.sent).toEqual([0, 2, 5, 6, 6, 1]);
    expect(m.lost).toEqual([0, 2, 2, 2, 0, 0]);
    expect(m.late).toEqual([0, 0, 1, 0, 0, 0]);
    expect(m.sent.reduce((a, b) => a + b)).toBe(data.summary.messages!.sent); // duplicates and unmatched replies are not messages sent
    expect(m.p99).toEqual([null, null, 2400, 40, 1.3, 0.65]); // each bucket's largest: exact
    const rtts = [[], [], [3, 250, 2400], [40, 12, 1.5, 2.25], [0.8, 0.9, 1.1, 0.7, 1.3, 0.6], [0.65]];
    m.p50.forEach((v, i) => {
      if (rtts[i].length === 0) return expect(v).toBeNull();
      const exact = exactRank(rtts[i], 50);
      expect(Math.abs(v! - exact) / exact, `bucket ${i}: ${v} against ${exact}`).toBeLessThanOrEqual(Math.sqrt(RTT_BIN_RATIO) - 1);
    });
    expect(data.badMessageLines).toBe(1);
    expect(data.badEventLines).toBe(0);
  });

  it('reaches past the attempts when messages were sent after the last one; a run with no stream has no series', async () => {
    const acc = new MessageAccumulator(100);
    acc.add({ r: 'replied', sent: 250, rtt: 1 });
    acc.add({ r: 'lost', sent: 720 });
    acc.add({ r: 'duplicate' });
    expect(acc.span()).toEqual([2, 7]);
    expect(acc.result(0, 7)).toEqual({ t: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], sent: [0, 0, 1, 0, 0, 0, 0, 1], lost: [0, 0, 0, 0, 0, 0, 0, 1], late: [0, 0, 0, 0, 0, 0, 0, 0], p50: [null, null, 1, null, null, null, null, null], p99: [null, null, 1, null, null, null, null, null] });
    expect(new MessageAccumulator(100).span()).toBeNull();
    const plain = await loadReportData(dir);
    expect('messagesOverTime' in plain).toBe(false);
    expect('badMessageLines' in plain).toBe(false);
  });

  it('many messages in one bucket: bounded bins, percentiles within 1% of the exact ones', () => {
    const acc = new MessageAccumulator(1000);
    const values: number[] = [];
    for (let k = 0; k < 20_000; k++) {
      const v = 0.05 + ((k * 7919) % 20_000) / 10; // 0.05 ms … 2 s, spread
      values.push(v);
      acc.add({ r: k % 10 === 0 ? 'late' : 'replied', sent: 100 + (k % 900), rtt: v });
    }
    const r = acc.result(0, 0);
    expect([r.sent[0], r.late[0], r.lost[0]]).toEqual([20_000, 2000, 0]);
    expect(r.p99[0]! / exactRank(values, 99)).toBeCloseTo(1, 1);
    expect(Math.abs(r.p50[0]! / exactRank(values, 50) - 1)).toBeLessThanOrEqual(Math.sqrt(RTT_BIN_RATIO) - 1);
    expect(Math.abs(r.p99[0]! / exactRank(values, 99) - 1)).toBeLessThanOrEqual(Math.sqrt(RTT_BIN_RATIO) - 1);
  });
});

describe('escaping', () => {
  it('embedJson cannot end its script element and parses back to the same value', () => {
    const value = { s: '</script><script>alert(1)</script>', c: '<!-- x -->', l: 'a\u2028b\u2029c', a: 'x & y > z' };
    const text = embedJson(value);
    expect(text).not.toMatch(/[<>\u2028\u2029]/);
    expect(text).toContain('\\u003c/script\\u003e');
    expect(JSON.parse(text)).toEqual(value);
  });

  it('escapeHtml escapes markup and attribute quotes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });

  it('escapeHtml shows control characters and bidi overrides instead of obeying them', () => {
    expect(escapeHtml('ok\u202egnp.exe\u0007\u0000 a\nb\tc')).toBe('ok\\u202egnp.exe\\u0007\\u0000 a\nb\tc');
  });

  it('the page holds no hostile string raw, loads nothing, and has exactly its three scripts', async () => {
    const html = renderHtmlReport(await loadReportData(dir));
    for (const raw of [HOSTILE_REASON, HOSTILE_SCENARIO_NAME, HOSTILE_PHASE, '<img src=x', '<svg onload', '</script><script>window.__pwned=2']) expect(html).not.toContain(raw);
    expect(html.match(/<script\b/g)).toHaveLength(3);
    const markup = html.replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, '<script></script>');
    expect(markup).not.toMatch(/<[a-z][^>]*\s(src|href|srcset|poster|data)\s*=/i); // no tag loads anything
    expect(markup).not.toMatch(/url\(|@import/i);
    expect(html).toContain('<script type="application/json" id="data">');
  });
});

// ---------------------------------------------------------------- in a real browser

describe('report.html in Chromium', () => {
  let launched: Browser | undefined;
  let noBrowser: unknown;
  let file: string;
  /** The browser, or the reason there is none: then every test here fails with it (never skips). */
  const browser = (): Browser => {
    if (!launched) throw noBrowser;
    return launched;
  };
  // Unpacking the bundled Chromium on first use takes seconds on a busy machine.
  beforeAll(async () => {
    writeRunFolder(dir);
    file = join(dir, 'report.html');
    writeFileSync(file, renderHtmlReport(await loadReportData(dir)));
    try {
      const found = await findChromium();
      console.log(`report.html test browser: ${found.launch.executablePath} (${found.source})`);
      launched = await chromium.launch(found.launch);
    } catch (err) {
      noBrowser = err;
    }
  }, 120_000);
  afterAll(async () => {
    await launched?.close();
  });

  it('draws all three charts with no errors and no network, shows hostile text as text', async () => {
    const page = await browser().newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    const url = pathToFileURL(file).href;
    await page.goto(url);

    for (const name of ['timeline', 'latency', 'distribution']) {
      const chart = page.locator(`[data-chart="${name}"]`);
      await chart.and(page.locator('[data-drawn="true"]')).waitFor({ timeout: 5000 });
      const size = await chart.locator('canvas').evaluate((c: HTMLCanvasElement) => ({ w: c.width, h: c.height, cw: c.clientWidth, ch: c.clientHeight }));
      expect(size.w * size.h * size.cw * size.ch, `${name} canvas size`).toBeGreaterThan(0);
    }

    expect(await page.locator('#findings li').count()).toBe(3);
    expect(await page.locator('#findings li').first().textContent()).toBe(`2 connections closed 1011 \`${HOSTILE_REASON}\` before ready`);
    expect(await page.locator('#phase-table tbody tr td:first-child').allTextContents()).toEqual(['unknown', 'init', 'dependencies', HOSTILE_PHASE, 'ready']);
    const readyRow = await page.locator('#phase-table tbody tr').last().locator('td').allTextContents();
    expect(readyRow.slice(0, 4)).toEqual(['ready', '3.20 s', '13', '11']);
    expect(await page.locator('#phase-table tfoot tr').allTextContents()).toHaveLength(2);

    expect(await page.locator('#totals').textContent()).toContain(HOSTILE_REASON);
    expect(await page.getByText(HOSTILE_REASON, { exact: true }).count()).toBeGreaterThan(0);
    expect(await page.locator('#scenario-name').textContent()).toBe(HOSTILE_SCENARIO_NAME);
    expect(await page.locator('header b, header img, header svg').count()).toBe(0);
    expect(await page.locator('header').textContent()).toContain(HOSTILE_URL);
    expect(await page.locator('#scenario').textContent()).toBe(JSON.stringify(SCENARIO, null, 2));
    expect(await page.locator('#verdict').textContent()).toBe('FAIL');
    expect(await page.locator('.warning').first().textContent()).toContain('Partial run: SIGINT <ctrl-c>');
    expect(await page.locator('#thresholds tbody tr').count()).toBe(2);
    // No stream: the page as it was before streams, no message chart, column or table.
    expect(await page.locator('[data-chart]').evaluateAll((els) => els.map((e) => e.getAttribute('data-chart')))).toEqual(['timeline', 'latency', 'distribution']);
    expect(await page.locator('#phase-table thead th').allTextContents()).toEqual(['phase', 'from', 'attempted', 'opened', '1011', 'other close', '503', 'other HTTP', 'refused', 'timeouts', 'p50 hs (ms)', 'p99 hs (ms)']);
    expect(await page.locator('#phase-table').getAttribute('class')).toBeNull();
    expect(await page.locator('#messages, #message-latency').count()).toBe(0);
    expect(await page.locator('h2').allTextContents()).toEqual(['Findings', 'Timeline', 'Handshake latency over time', 'Handshake latency distribution', 'Phase × outcome', 'Totals', 'Latency (summary.json)', 'Scenario used']);
    expect(await page.locator('footer').textContent()).toBe('wsrace report · wsrace.summary/v1 · generated from summary.json and events.ndjson');
    expect(Object.keys(JSON.parse((await page.locator('#data').textContent())!).report).sort()).toEqual(['badEventLines', 'distribution', 'handshakeOverTime', 'perSecond', 'scenario', 'summary']);

    expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(await page.evaluate(() => document.querySelectorAll('script').length)).toBe(3);
    expect(errors).toEqual([]);
    expect(requests).toEqual([url]);
    // To look at the page while working on it: WSRACE_REPORT_PNG=/tmp/report.png npx vitest run test/report-html.test.ts
    if (process.env.WSRACE_REPORT_PNG) await page.screenshot({ path: process.env.WSRACE_REPORT_PNG, fullPage: true });
    await page.close();
  });

  it('a run without scenario.json, with nothing opened, still renders', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'wsrace-report-html-bare-'));
    try {
      const summary = fixtureSummary(eventLines());
      writeFileSync(join(bare, 'summary.json'), JSON.stringify({ ...summary, timeline: [], partial: false }));
      writeFileSync(join(bare, 'events.ndjson'), [refused(10), http(1500, 503)].map((e, i) => JSON.stringify({ i, w: 0, tcp: null, up: null, first: null, ...e })).join('\n') + '\n');
      const html = join(bare, 'report.html');
      writeFileSync(html, renderHtmlReport(await loadReportData(bare)));
      const page = await browser().newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(html).href);
      await page.locator('[data-chart="timeline"][data-drawn="true"]').waitFor({ timeout: 5000 });
      expect(await page.locator('[data-chart="latency"]').getAttribute('data-empty')).toBe('true');
      expect(await page.locator('[data-chart="distribution"]').getAttribute('data-empty')).toBe('true');
      expect(await page.getByText('No scenario.json in the run folder').count()).toBe(1);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it('a run with a stream: message round trip and loss over time, sent / lost / p99 rtt per phase, the messages table', async () => {
    writeStreamRunFolder(streamDir);
    const data = await loadReportData(streamDir);
    const html = join(streamDir, 'report.html');
    writeFileSync(html, renderHtmlReport(data));
    const page = await browser().newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && errors.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    const url = pathToFileURL(html).href;
    await page.goto(url);
    const charts = ['timeline', 'latency', 'message-rtt', 'message-loss', 'distribution'];
    expect(await page.locator('[data-chart]').evaluateAll((els) => els.map((e) => e.getAttribute('data-chart')))).toEqual(charts);
    for (const name of charts) {
      const chart = page.locator(`[data-chart="${name}"]`);
      await chart.and(page.locator('[data-drawn="true"]')).waitFor({ timeout: 5000 });
      const size = await chart.locator('canvas').evaluate((c: HTMLCanvasElement) => ({ w: c.width, h: c.height, cw: c.clientWidth, ch: c.clientHeight }));
      expect(size.w * size.h * size.cw * size.ch, `${name} canvas size`).toBeGreaterThan(0);
    }
    // The loss chart's legend reads the bucket under the cursor: lost and late of the messages sent in it.
    const view = (JSON.parse((await page.locator('#data').textContent())!) as { view: { xMin: number; xMax: number } }).view;
    await page.locator('[data-chart="message-loss"]').scrollIntoViewIfNeeded();
    const over = (await page.locator('[data-chart="message-loss"] .u-over').boundingBox())!;
    const legendAt = async (s: number) => {
      await page.mouse.move(over.x + (over.width * (s - view.xMin)) / (view.xMax - view.xMin), over.y + over.height / 2);
      return expect.poll(() => page.locator('[data-chart="message-loss"] .u-legend .u-value').allTextContents(), { timeout: 5000 });
    };
    expect(data.perSecond.bucketS).toBe(0.1);
    await (await legendAt(1.65)).toEqual(['1.60 s to 1.70 s', '1 of 1 (100.0%)', '0 of 1 (0.0%)']);
    await (await legendAt(2.75)).toEqual(['2.70 s to 2.80 s', '0 of 1 (0.0%)', '1 of 1 (100.0%)']);
    await (await legendAt(4.15)).toEqual(['4.10 s to 4.20 s', '0 of 1 (0.0%)', '0 of 1 (0.0%)']);

    const head = await page.locator('#phase-table thead th').allTextContents();
    expect(head.slice(-3)).toEqual(['sent', 'lost', 'p99 rtt (ms)']);
    const s = data.summary;
    const fmt = (v: number | null | undefined) => (v == null ? '-' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
    const rows = await page.locator('#phase-table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows.map((r) => r[0])).toEqual(['unknown', 'init', 'dependencies', HOSTILE_PHASE, 'ready']);
    for (const r of rows) {
      const b = s.phases[r[0]!].messages;
      expect(r.slice(-3), r[0]!).toEqual([String(b?.sent ?? 0), String(b?.lost ?? 0), fmt(b?.rttMs.p99)]);
    }
    expect(rows[4].slice(-3)).toEqual(['12', '1', fmt(40)]);
    const foot = await page.locator('#phase-table tfoot tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(-3).map((td) => td.textContent)));
    expect(foot).toEqual([
      [String(s.beforeReady.messages!.sent), String(s.beforeReady.messages!.lost), fmt(s.beforeReady.messages!.rttMs.p99)],
      ['12', '1', fmt(40)],
    ]);
    expect(await page.locator('#messages tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent?.trim())))).toEqual([
      ['replied', '13', '65.0%'],
      ['late', '1', '5.0%'],
      ['lost', '6', '30.0%'],
      ['lost, closed 1000', '1', '5.0%'],
      ['lost, closed 1006', '1', '5.0%'],
      ['lost, closed 1011', '4', '20.0%'],
      ['out of order', '1', '5.0%'],
      ['duplicates', '1', '5.0%'],
      ['unmatched', '1', '5.0%'],
    ]);
    expect(await page.locator('#messages tfoot td').first().textContent()).toBe('sent');
    expect(await page.locator('#message-latency tbody td:nth-child(2)').allTextContents()).toEqual(['messages.rttMs', 'messages.sendLagMs']);
    expect(await page.locator('.warning').allTextContents()).toContain('1 line of messages.ndjson could not be read and is left out of the charts.');
    expect(errors).toEqual([]);
    expect(requests).toEqual([url]);
    if (process.env.WSRACE_REPORT_PNG) await page.screenshot({ path: process.env.WSRACE_REPORT_PNG.replace(/\.png$/, '-stream.png'), fullPage: true });
    await page.close();
  });
});
