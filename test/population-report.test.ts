import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario, type RunResult } from '../src/run/run.js';
import { loadReportData, type ReportData } from '../src/report/html-data.js';
import { renderHtmlReport } from '../src/report/html.js';
import { renderSummary } from '../src/report/console.js';
import type { EventLine } from '../src/timeline/phase-report.js';
import { EventClients } from '../src/timeline/clients-report.js';
import { attributeEventsFile } from '../src/timeline/phase-report.js';
import { now } from '../src/util/clock.js';
import { servedAfterOf } from '../src/record/clients.js';
import { findChromium } from './helpers/browser.js';

/**
 * A population of N clients through a restart: a ws server on loopback closes every socket with
 * 1012 a moment after the N-th client is connected, then keeps whoever comes back. What report.html,
 * the findings and the console say must be exactly that.
 */
const N = 20;
/** session.servedAfter, shorter than the default 1 s: the run, the report and a merge all read it from the scenario. */
const SERVED_AFTER = 300;
const root = mkdtempSync(join(tmpdir(), 'wsrace-population-report-'));
let wss: WebSocketServer;
let cutAt = 0; // epoch ms on wsrace's clock
let cutPlanned = false;
let run: RunResult;
let data: ReportData;
let events: EventLine[];

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const open = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    open.add(ws);
    ws.on('close', () => open.delete(ws));
    // 0.5 s after the N-th client is connected: every socket has served its client by the scenario's session.servedAfter (300 ms) when it is cut.
    if (!cutPlanned && open.size === N) {
      cutPlanned = true;
      setTimeout(() => {
        cutAt = now();
        for (const s of open) s.close(1012, 'restarting');
      }, SERVED_AFTER + 200);
    }
  });
  const port = (wss.address() as { port: number }).port;
  const scenario = parseScenarioText(
    `name: pop-restart\ntarget:\n  url: ws://127.0.0.1:${port}/ws\nload:\n  population: { clients: ${N}, over: 400ms }\n  duration: 3000ms\nsession:\n  servedAfter: ${SERVED_AFTER}ms\nthresholds:\n  - "disconnects.closeCodes.1012 == ${N}"\n  - "clients.neverBack == 0"\n  - "clients.retryLagMs.count == ${N}"\n`,
    'pop.yaml',
  );
  run = await runScenario(scenario, { outDir: join(root, 'run'), workers: 1 });
  data = await loadReportData(run.outDir, { bucketMs: 100 });
  events = readFileSync(join(run.outDir, 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EventLine);
}, 60_000);
afterAll(async () => {
  await new Promise((resolve) => wss.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

describe('a population cut by a restart (1012)', () => {
  it('summary: N disconnects with 1012, every client dropped once and back', () => {
    const s = run.summary;
    expect(cutAt).toBeGreaterThan(0);
    expect(s.disconnects).toEqual({ total: N, closeCodes: { '1012': N }, phases: { unknown: { total: N, closeCodes: { '1012': N } } } });
    expect([s.clients!.clients, s.clients!.dropped, s.clients!.drops, s.clients!.reconnected, s.clients!.neverBack]).toEqual([N, N, N, N, 0]);
    expect(s.verdict).toBe('pass');
  });

  it('a merge follows the clients again from events.ndjson alone: the same block as the live tracker', async () => {
    const { retriesByPhase: _herd, ...live } = run.summary.clients!;
    const timeline = { spans: [], readyAtMs: null, failedAtMs: null };
    const clients = new EventClients(false, run.summary.t0EpochMs!, servedAfterOf(JSON.parse(readFileSync(join(run.outDir, 'scenario.json'), 'utf8'))));
    await attributeEventsFile(join(run.outDir, 'events.ndjson'), timeline, { visit: (e) => clients.add(e) });
    const again = clients.report(timeline);
    const counts = (c: typeof live) => [c.clients, c.connected, c.retries, c.dropped, c.drops, c.reconnected, c.neverBack, c.attemptsPerClient, c.attemptsPerReconnect, c.reconnectMs.count, c.outageMs.count, c.retryLagMs.count];
    expect(counts(again!)).toEqual(counts(live));
    // The file's times are rounded to the µs: a comeback's time is the same within that.
    for (const stat of ['p50', 'p99', 'max'] as const) expect(Math.abs(again!.reconnectMs[stat]! - live.reconnectMs[stat]!)).toBeLessThanOrEqual(Math.max(0.002, live.reconnectMs[stat]! * 0.001));
  });

  it('report data: the connected curve is the sockets open at each bucket end, rises to N, drops at the cut and recovers', () => {
    const pop = data.population!;
    expect(pop).toBeDefined();
    // The oracle: count the events' sockets open at each bucket's end.
    const expected = pop.t.map((t) => {
      const end = Math.round((t + pop.bucketS) * 1000);
      return events.filter((e) => e.open !== null && Math.floor(e.open / 100) * 100 < end && Math.floor(e.end / 100) * 100 >= end).length;
    });
    expect(pop.connected).toEqual(expected);
    // The cut comes as the N-th client connects, so before it at most N − 1 are open at a bucket's end.
    const cut = pop.disconnects[0].counts.findIndex((n) => n > 0);
    const before = pop.connected[cut - 1];
    expect(before).toBeGreaterThan(0);
    expect(pop.connected.slice(0, cut).every((n, i, a) => i === 0 || n >= a[i - 1])).toBe(true); // rising while they connect
    const dip = Math.min(...pop.connected.slice(cut));
    expect(dip).toBeLessThan(before);
    const back = pop.connected.indexOf(N, cut);
    expect(back, pop.connected.join(' ')).toBeGreaterThan(pop.connected.indexOf(dip, cut)); // all back after the dip
    expect(Math.max(...pop.connected)).toBe(N);
    expect(pop.connected[pop.connected.length - 1]).toBe(0); // all closed at load.duration
  });

  it('report data: the disconnects are N × 1012 in the buckets they closed in, none before the cut; the herd worked', () => {
    const pop = data.population!;
    expect(pop.disconnects.map((d) => d.code)).toEqual(['1012']);
    expect(pop.disconnects[0].counts.reduce((a, b) => a + b, 0)).toBe(N);
    const cutMs = cutAt - run.summary.t0EpochMs;
    const firstBucket = pop.disconnects[0].counts.findIndex((n) => n > 0);
    expect(pop.t[firstBucket] * 1000).toBeGreaterThanOrEqual(Math.floor(cutMs / 100) * 100);
    for (const e of events.filter((x) => x.serverClosed)) expect(e.end).toBeGreaterThanOrEqual(cutMs);
    // Every retry that worked is a comeback: at least N, and the herd's series hold every retry.
    const retries = events.filter((e) => (e.try ?? 0) > 0).length;
    expect(Object.values(pop.herd).flat().reduce((a, b) => a + b, 0)).toBe(retries);
    expect(pop.herd.opened.reduce((a, b) => a + b, 0)).toBe(N);
  });

  it('findings, console and page say it in words', () => {
    const s = run.summary;
    const cut = s.findings.find((f) => f.includes('were cut'));
    expect(cut).toMatch(new RegExp(`^${N} of ${N} clients were cut \\(1012\\) at \\+\\d+\\.\\d\\d s$`));
    expect(s.findings).toContainEqual(expect.stringMatching(new RegExp(`^${N} clients were dropped; p99 outage \\d+(\\.\\d\\d s| ms) \\(p50 .+\\), 1 attempt per comeback \\(max 1\\); all came back$`)));
    const text = renderSummary(s);
    expect(text).toContain(`Disconnects: ${N} (1012)`);
    // The retries are attempts beyond the schedule, said apart from it.
    expect(text).toContain(`${N} of ${N} scheduled attempts and ${N} retries in `);
    expect(text).toContain(`Dropped clients: ${N} (${N} drops), ${N} came back, 0 never did`);
    const html = renderHtmlReport(data);
    for (const id of ['data-chart="connected"', 'data-chart="disconnects"', 'data-chart="herd"', 'id="disconnects-table"', 'id="herd-table"']) expect(html).toContain(id);
  });

  it('report.html draws the population charts in Chromium with no error', async () => {
    const file = join(run.outDir, 'report-test.html');
    writeFileSync(file, renderHtmlReport(data));
    const found = await findChromium();
    const browser = await chromium.launch(found.launch);
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(file).href);
      for (const name of ['timeline', 'connected', 'disconnects', 'herd']) await page.locator(`[data-chart="${name}"][data-drawn="true"]`).waitFor({ timeout: 10_000 });
      expect(await page.locator('#disconnects-table tfoot td').allTextContents()).toEqual(['all', String(N), String(N)]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
