import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario, type RunResult } from '../src/run/run.js';
import { POPULATION_BASE } from '../src/record/attempt.js';
import { readEvents, type EventRow } from './helpers/coldstart.js';

/**
 * A population with arrivals on top (load.population beside load.stages) against a server that
 * keeps every socket: the clients and the arrivals are counted apart, exactly, and nothing is a
 * disconnect (wsrace closed every socket itself).
 */
const CLIENTS = 8;
const RATE = 20; // arrivals a second, for 1 s
const root = mkdtempSync(join(tmpdir(), 'wsrace-population-stages-'));
let wss: WebSocketServer;
let accepted = 0;
let run: RunResult;
let events: EventRow[];

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', () => accepted++);
  const port = (wss.address() as { port: number }).port;
  const scenario = parseScenarioText(
    `name: pop-and-arrivals\ntarget:\n  url: ws://127.0.0.1:${port}/ws\nload:\n  population: { clients: ${CLIENTS}, over: 200ms }\n  stages:\n    - { duration: 1s, rate: ${RATE} }\n  duration: 1500ms\nsession:\n  hold: 100ms\n`,
    'pop-stages.yaml',
  );
  run = await runScenario(scenario, { outDir: join(root, 'run'), workers: 2 });
  events = readEvents(run.outDir);
}, 60_000);
afterAll(async () => {
  await new Promise((resolve) => wss.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

describe('a population with arrivals on top', () => {
  it('counts the clients and the arrivals apart: every attempt once, the clients held to the end, the arrivals for their hold', () => {
    const s = run.summary;
    const clients = events.filter((e) => e.client !== undefined && e.client >= POPULATION_BASE);
    const arrivals = events.filter((e) => e.client === undefined);
    expect([clients.length, arrivals.length]).toEqual([CLIENTS, RATE]);
    expect(s.totals.attempted).toBe(CLIENTS + RATE);
    expect(accepted).toBe(CLIENTS + RATE);
    expect(s.totals.closeCodes).toEqual({ '1000': CLIENTS + RATE });
    expect(s.clients).toMatchObject({ clients: CLIENTS, connected: CLIENTS, retries: 0, dropped: 0, neverBack: 0 });
    expect(s.disconnects.total).toBe(0);
    // The arrivals close after their hold; the clients not before load.duration (1.5 s after the schedule's start).
    expect(clients.every((e) => e.end >= 1500)).toBe(true);
    expect(arrivals.every((e) => e.open !== null && e.end - e.open! >= 100)).toBe(true);
  });
});
