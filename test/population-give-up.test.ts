import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario, type RunResult } from '../src/run/run.js';
import { POPULATION_BASE } from '../src/record/attempt.js';
import { outcomeKey } from '../src/record/clients.js';
import { EventClients } from '../src/timeline/clients-report.js';
import { attributeEventsFile } from '../src/timeline/phase-report.js';
import { renderSummary } from '../src/report/console.js';
import { loadReportData } from '../src/report/html-data.js';
import { renderHtmlReport } from '../src/report/html.js';
import { readEvents, type EventRow } from './helpers/coldstart.js';

/**
 * Clients that stop trying, and clients still trying at the end, told apart (clients.gaveUp):
 * a real server that knows each attempt by `${conn}` in its URL accepts a client's first attempt
 * and closes it 1012 at once (`cut`), or answers it 503 (`refuse`), and answers every retry 503;
 * for arrivals (`arrivals`) it keeps the even ones' first attempts open and answers the rest 503.
 * So each client's attempts, and the one it gave up on, follow from its policy exactly.
 */
const CLIENTS = 6;
const root = mkdtempSync(join(tmpdir(), 'wsrace-give-up-'));
let wss: WebSocketServer;
let port = 0;
let mode: 'cut' | 'refuse' | 'arrivals' = 'cut';
let refused = 0;

const connOf = (req: IncomingMessage): number => Number(new URL(req.url ?? '/', 'http://x').searchParams.get('c'));
const accepts = (conn: number): boolean => {
  if (mode === 'arrivals') return conn < CLIENTS && conn % 2 === 0;
  return mode === 'cut' && conn >= POPULATION_BASE && conn < POPULATION_BASE + CLIENTS;
};

beforeAll(async () => {
  wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: ({ req }, done) => {
      const ok = accepts(connOf(req));
      if (!ok) refused++;
      done(ok, ok ? undefined : 503);
    },
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  // servedAfter 0: the socket served its client once it opened, so this close is a drop.
  wss.on('connection', (ws) => {
    if (mode === 'cut') ws.close(1012);
  });
  port = (wss.address() as { port: number }).port;
}, 10_000);
afterAll(async () => {
  await new Promise((resolve) => wss.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

async function run(name: string, m: typeof mode, reconnect: string): Promise<{ result: RunResult; events: EventRow[] }> {
  mode = m;
  refused = 0;
  const load = m === 'arrivals' ? `  stages:\n    - { duration: 300ms, rate: ${(CLIENTS * 1000) / 300} }\n` : `  population: { clients: ${CLIENTS}, over: 60ms }\n  duration: 1200ms\n`;
  const scenario = parseScenarioText(
    `name: ${name}\ntarget:\n  url: ws://127.0.0.1:${port}/ws?c=\${conn}\nload:\n${load}session:\n  hold: 100ms\n  servedAfter: 0ms\n  reconnect: ${reconnect}\n`,
    `${name}.yaml`,
  );
  const result = await runScenario(scenario, { outDir: join(root, name), workers: 2 });
  return { result, events: readEvents(result.outDir) };
}

/** Each client's attempts, in the order it made them. */
function byClient(events: EventRow[]): EventRow[][] {
  const m = new Map<number, EventRow[]>();
  for (const e of events) if (e.client !== undefined) m.set(e.client, [...(m.get(e.client) ?? []), e]);
  return [...m.values()].map((a) => a.sort((x, y) => (x.try ?? 0) - (y.try ?? 0)));
}

describe('clients that gave up and clients still retrying', () => {
  it('max 2: cut 1012, two retries answered 503, and the client gives up on the second', async () => {
    const { result, events } = await run('max', 'cut', '{ max: 2, backoff: { initial: 20ms, factor: 1 } }');
    const c = result.summary.clients!;
    expect(c).toMatchObject({ clients: CLIENTS, connected: CLIENTS, dropped: CLIENTS, neverBack: CLIENTS, neverBackLast: { http_503: CLIENTS }, gaveUp: { neverConnected: 0, neverBack: CLIENTS } });
    const clients = byClient(events);
    expect(clients).toHaveLength(CLIENTS);
    for (const a of clients) {
      expect(a.map((e) => outcomeKey(e))).toEqual(['1012', 'http_503', 'http_503']);
      expect(a.map((e) => e.gaveUp ?? false)).toEqual([false, false, true]);
    }
    expect(refused).toBe(2 * CLIENTS);
    expect(result.summary.findings.some((f) => f.endsWith(`${CLIENTS} never came back (their last attempts: ${CLIENTS} http_503; all had stopped retrying)`))).toBe(true);
    expect(renderSummary(result.summary)).toContain(`${CLIENTS} never did (${CLIENTS} gave up)`);
    expect(renderHtmlReport(await loadReportData(result.outDir))).toContain(`<dt>never came back</dt><dd>${CLIENTS} <span class="muted">(all had stopped retrying)</span>`);
    // A merge follows the clients from events.ndjson alone, and finds the same.
    const timeline = { spans: [], readyAtMs: null, failedAtMs: null };
    const again = new EventClients(false, result.summary.t0EpochMs!, 0);
    await attributeEventsFile(join(result.outDir, 'events.ndjson'), timeline, { visit: (e) => again.add(e) });
    expect(again.report(timeline)).toMatchObject({ neverBack: CLIENTS, neverBackLast: c.neverBackLast, gaveUp: c.gaveUp });
  }, 30_000);

  it('an outcome `on` does not list: the client gives up on its first retry', async () => {
    const { result, events } = await run('unlisted', 'cut', '{ on: [1012], backoff: { initial: 20ms } }');
    expect(result.summary.clients).toMatchObject({ neverBack: CLIENTS, gaveUp: { neverConnected: 0, neverBack: CLIENTS } });
    for (const a of byClient(events)) expect(a.map((e) => [outcomeKey(e), e.gaveUp ?? false])).toEqual([['1012', false], ['http_503', true]]);
    expect(refused).toBe(CLIENTS);
  }, 30_000);

  it('a policy that outlasts the run: every client still retrying at the end, none gave up', async () => {
    const { result, events } = await run('outlasts', 'cut', '{ max: 1000, backoff: { initial: 50ms, factor: 1 } }');
    expect(result.summary.clients).toMatchObject({ neverBack: CLIENTS, gaveUp: { neverConnected: 0, neverBack: 0 } });
    expect(events.filter((e) => e.gaveUp)).toEqual([]);
    // Every client kept going until the population's time was up: more than two retries each.
    for (const a of byClient(events)) expect(a.length).toBeGreaterThan(3);
    expect(result.summary.findings.some((f) => f.endsWith('all were still retrying at the end)'))).toBe(true);
    expect(renderSummary(result.summary)).toContain(`${CLIENTS} never did (all still retrying at the end)`);
    expect(renderHtmlReport(await loadReportData(result.outDir))).toContain(`<dt>never came back</dt><dd>${CLIENTS} <span class="muted">(all were still retrying at the end)</span>`);
  }, 30_000);

  it('refused from the first attempt: never connected, and gave up after max failures in a row', async () => {
    const { result, events } = await run('never', 'refuse', '{ max: 2, backoff: { initial: 20ms, factor: 1 } }');
    expect(result.summary.clients).toMatchObject({ clients: CLIENTS, connected: 0, neverConnected: CLIENTS, dropped: 0, gaveUp: { neverConnected: CLIENTS, neverBack: 0 } });
    for (const a of byClient(events)) expect(a.map((e) => [outcomeKey(e), e.gaveUp ?? false])).toEqual([['http_503', false], ['http_503', true]]);
    expect(refused).toBe(2 * CLIENTS);
  }, 30_000);

  it('arrivals with session.reconnect: one kept open and closed by wsrace after its hold is a client done; one refused gives up after max retries', async () => {
    const { result, events } = await run('arrivals', 'arrivals', '{ max: 2, backoff: { initial: 20ms, factor: 1 } }');
    expect(result.summary.clients).toMatchObject({ clients: CLIENTS, connected: CLIENTS / 2, neverConnected: CLIENTS / 2, gaveUp: { neverConnected: CLIENTS / 2, neverBack: 0 } });
    const clients = byClient(events);
    expect(clients).toHaveLength(CLIENTS);
    for (const a of clients) {
      const kept = a[0].client! % 2 === 0;
      expect(a.map((e) => [outcomeKey(e), e.gaveUp ?? false])).toEqual(kept ? [['1000', false]] : [['http_503', false], ['http_503', false], ['http_503', true]]);
    }
    expect(refused).toBe((3 * CLIENTS) / 2);
    expect(renderSummary(result.summary)).toContain(`${CLIENTS / 2} never did (${CLIENTS / 2} gave up)`);
  }, 30_000);
});
