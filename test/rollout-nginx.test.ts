import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runScenario } from '../src/run/run.js';
import { parseScenarioText } from '../src/scenario/load.js';
import { readEvents, readMessages, readTimelineEvents, type EventRow } from './helpers/coldstart.js';
import { startNginx, type NginxProxy } from './helpers/nginx.js';
import { CROSS_PROCESS_CLOCK_MS, hdrResolution, slackFrom, watchLoop } from './helpers/slack.js';
import { startWsBackend, type BackendConn, type WsBackend } from './helpers/ws-backend.js';

const CLIENTS = 40;
const STREAM_EVERY_MS = 200;
const TRIGGER_AT_MS = 1500;
/** nginx's worker_shutdown_timeout: the old worker cuts what it still holds this long after the reload. */
const SHUTDOWN_TIMEOUT_MS = 800;
const DURATION_MS = 3500;
/** nginx's clock counts whole milliseconds: its shutdown timer may fire up to 1 ms before a finer clock says it is due. */
const NGINX_CLOCK_MS = 1;
/** Node's timers count whole ms of a cached loop time: the trigger's timer fires up to a ms off, and t0.ts re-arms an early one for the rest (a ms more at most). */
const NODE_TIMERS_MS = 2;
/** events.ndjson rounds each time to 1 µs: a span between two of them is off by 1 µs at most. */
const EVENTS_ROUNDING_MS = 0.001;
/** watchLoop's sampling period (ms). */
const LOOP_TICK_MS = 1;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

interface Rollout {
  a: WsBackend;
  b: WsBackend;
  nginx: NginxProxy;
}

/** Two backend revisions behind nginx, the upstream on A. Without nginx this fails, saying why: CI installs it. */
async function rollout(): Promise<Rollout> {
  const a = await startWsBackend('A');
  cleanup.push(() => a.close());
  const b = await startWsBackend('B');
  cleanup.push(() => b.close());
  const nginx = await startNginx({ backendPort: a.port, shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS });
  cleanup.push(() => nginx.stop());
  return { a, b, nginx };
}

const closed = (conns: BackendConn[]) => conns.filter((c) => c.closeAt !== null).length;

describe('a rollout through nginx: the upstream switched and reloaded mid-run', () => {
  it("wsrace's disconnects, their times, the reconnects and the lost messages are what the backends saw", async () => {
    const { a, b, nginx } = await rollout();
    const scenario = {
      name: 'rollout-nginx',
      target: { url: nginx.url, handshakeTimeout: '3s', trigger: { command: nginx.switchCommand(b.port), at: `${TRIGGER_AT_MS}ms` } },
      load: { population: { clients: CLIENTS, over: '400ms' }, duration: `${DURATION_MS}ms` },
      session: { stream: { every: `${STREAM_EVERY_MS}ms` } },
    };
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-rollout-nginx-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'run');
    // This thread's loop (it reads the backends' and nginx's events), watched from the first
    // connection until just after the last cut was read: a timer a tick later sees any stall that
    // held that read back. The run's end (its reports) stalls this thread too, but after the cut.
    const loopAtTheCut = a
      .waitFor('connections', (c) => c.length, 1, 10_000)
      .then(() => watchLoop())
      .then(async (loop) => {
        await a.waitFor('cut connections', closed, CLIENTS, 10_000);
        await new Promise((resolve) => setTimeout(resolve, 2 * LOOP_TICK_MS));
        const ms = loop.maxWaitMs();
        loop.stop();
        return ms;
      });
    const [result, mainWaitMs] = await Promise.all([
      runScenario(parseScenarioText(YAML.stringify(scenario), 'rollout-nginx.yaml'), { outDir: out, workers: 2 }),
      loopAtTheCut,
    ]);
    // The reload took effect, and every socket either backend saw has closed (events, not a sleep).
    const reload = await nginx.reloaded(1, 5000);
    await b.waitFor('closed connections', closed, b.conns.length, 5000);
    const s = result.summary;
    const t0 = s.t0EpochMs;
    const events = readEvents(out);
    const ms = (epoch: number) => epoch - t0;

    // The deploy: launched at trigger.at, the reload after it, one old worker swapped for one new.
    const deploys = readTimelineEvents(out).filter((e) => e.kind === 'deploy');
    expect(deploys.map((d) => d.source)).toEqual(['trigger']);
    expect(deploys[0].ms).toBeGreaterThanOrEqual(TRIGGER_AT_MS);
    expect(deploys[0].ms).toBeLessThanOrEqual(TRIGGER_AT_MS + NODE_TIMERS_MS + mainWaitMs);
    expect(ms(reload.signalledAt)).toBeGreaterThan(deploys[0].ms);
    expect(nginx.reloads).toHaveLength(1);
    expect([reload.oldWorkers.length, reload.newWorkers.length]).toEqual([1, 1]);

    // A had every client once, B none before the reload; nginx cut all of A's at its shutdown timeout.
    expect(a.conns).toHaveLength(CLIENTS);
    expect(a.conns.map((c) => c.code)).toEqual(a.conns.map(() => 1006));
    for (const c of a.conns) {
      expect(c.openAt).toBeLessThan(reload.signalledAt);
      expect(c.closeAt!).toBeGreaterThanOrEqual(reload.tookEffectAt + SHUTDOWN_TIMEOUT_MS - mainWaitMs - NGINX_CLOCK_MS);
    }
    expect(Math.min(...b.conns.map((c) => c.openAt))).toBeGreaterThan(reload.signalledAt);

    // wsrace's disconnects are exactly A's cuts: by code, by client port, by time.
    expect(s.disconnects).toEqual({ total: CLIENTS, closeCodes: { '1006': CLIENTS }, phases: { unknown: { total: CLIENTS, closeCodes: { '1006': CLIENTS } } } });
    const aByPort = new Map(a.conns.map((c) => [c.clientPort, c]));
    const cut = events.filter((e) => e.outcome === 'close' && e.serverClosed);
    expect(cut.map((e) => [e.code, e.try ?? 0, aByPort.has(e.lport!)])).toEqual(cut.map(() => [1006, 0, true]));
    expect(new Set(cut.map((e) => e.lport)).size).toBe(CLIENTS);
    // Both sides hear nginx's cut at once; each reads it on its own loop: wsrace's worker (its
    // measured loop delay) and this thread (the backends), on clocks a thread apart.
    const slack = slackFrom(s, { events: 1, fromSchedule: false }) + mainWaitMs + CROSS_PROCESS_CLOCK_MS;
    for (const e of cut) expect(Math.abs(e.end - ms(aByPort.get(e.lport!)!.closeAt!)), `attempt ${e.i} (port ${e.lport})`).toBeLessThanOrEqual(slack);

    // Every client came back, once, onto B; B's sockets are exactly those comebacks, and wsrace
    // closed each itself at load.duration (1000, not a disconnect).
    expect(s.clients).toMatchObject({
      clients: CLIENTS,
      connected: CLIENTS,
      dropped: CLIENTS,
      drops: CLIENTS,
      reconnected: CLIENTS,
      neverBack: 0,
      attemptsPerReconnect: { mean: 1, max: 1, p50: 1, p90: 1, p99: 1, counts: { '1': CLIENTS } },
    });
    expectComebacksOnB(events, cut, b);
    // Their spans as events.ndjson has them (3 decimals each): the drop to the working socket, and
    // to the first answered ping.
    const back = new Map(events.filter((e) => (e.try ?? 0) > 0).map((e) => [e.client, e]));
    const spans = (to: (e: EventRow) => number) => cut.map((e) => to(back.get(e.client)!) - e.end);
    for (const [stats, values] of [
      [s.clients!.reconnectMs!, spans((e) => e.ok!)],
      [s.clients!.outageMs!, spans((e) => e.reply!)],
    ] as const) {
      expect(stats.count).toBe(CLIENTS);
      expect(stats.max!).toBeGreaterThanOrEqual(Math.max(...values) - EVENTS_ROUNDING_MS);
      expect(stats.max!).toBeLessThanOrEqual(Math.max(...values) + EVENTS_ROUNDING_MS + hdrResolution(Math.max(...values)));
    }

    // The stream: what was lost across the drop is what was outstanding at it, as A recorded it.
    expectLostAtTheCut(out, cut, aByPort);
    expect(s.messages?.lost).toBe(cut.reduce((n, e) => n + e.msgs!.lost, 0));
  }, 20_000);
});

/** The comeback attempts: one per cut client, each B's connection by port, closed by wsrace at the end. */
function expectComebacksOnB(events: EventRow[], cut: EventRow[], b: WsBackend): void {
  const comebacks = events.filter((e) => (e.try ?? 0) > 0);
  expect(comebacks).toHaveLength(CLIENTS);
  expect(b.conns).toHaveLength(CLIENTS);
  const dropAt = new Map(cut.map((e) => [e.client, e.end]));
  expect(new Set(comebacks.map((e) => e.client))).toEqual(new Set(cut.map((e) => e.client)));
  const bByPort = new Map(b.conns.map((c) => [c.clientPort, c]));
  for (const e of comebacks) {
    expect([e.try, e.outcome, e.code, e.serverClosed, bByPort.has(e.lport!)], `attempt ${e.i}`).toEqual([1, 'close', 1000, false, true]);
    expect(bByPort.get(e.lport!)!.code).toBe(1000);
    expect(e.sched, `attempt ${e.i} was due after its client's drop`).toBeGreaterThanOrEqual(dropAt.get(e.client)!);
    expect(e.msgs!.lost).toBe(0);
  }
}

/**
 * A stream ping is lost when its socket is cut before its pong came back. A answers each ping at
 * once and in order, so the pings of a cut socket split exactly: the replied ones are the first
 * A received; the lost ones are the rest, outstanding at the cut: pings A answered whose pong was
 * still in nginx's hands, and pings that never reached A. Each was sent after every replied one.
 */
function expectLostAtTheCut(out: string, cut: EventRow[], aByPort: Map<number, BackendConn>): void {
  const lines = readMessages(out);
  for (const e of cut) {
    const conn = aByPort.get(e.lport!)!;
    const m = e.msgs!;
    const mine = lines.filter((l) => l.i === e.i);
    const answered = mine.filter((l) => l.r === 'replied' || l.r === 'late').map((l) => l.seq!).sort((x, y) => x - y);
    const lost = mine.filter((l) => l.r === 'lost').map((l) => l.seq!);
    expect([answered.length, lost.length, mine.length], `attempt ${e.i}`).toEqual([m.replied + m.late, m.lost, m.sent]);
    expect(conn.pings.slice(0, answered.length), `attempt ${e.i}: A's first pings are the answered ones`).toEqual(answered);
    expect(lost, `attempt ${e.i}: the rest are lost, the ones A got among them`).toEqual(expect.arrayContaining(conn.pings.slice(answered.length)));
    expect(new Set([...answered, ...lost]).size).toBe(m.sent);
    expect(mine.filter((l) => l.r === 'lost').map((l) => l.code)).toEqual(lost.map(() => 1006));
    const lastReplySent = Math.max(-Infinity, ...mine.filter((l) => l.r !== 'lost').map((l) => l.sent!));
    for (const l of mine.filter((x) => x.r === 'lost')) expect(l.sent!).toBeGreaterThan(lastReplySent);
  }
}
