import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenarioText } from '../../src/scenario/load.js';
import { runScenario, type RunResult } from '../../src/run/run.js';
import type { AttemptRecord } from '../../src/record/attempt.js';

/** `${WSRACE}` for tests: the compiled CLI (test/global-setup.ts builds it before the suite). */
export const WSRACE_FROM_SOURCE = `"${process.execPath}" "${fileURLToPath(new URL('../../bin/wsrace.js', import.meta.url))}"`;

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TruthConn {
  type: 'conn';
  at: number;
  atMs: number;
  phase: string;
  action: string;
  remote: string;
  reason?: string;
}
export interface TruthPhase {
  type: 'phase';
  at: number;
  phase: string;
}
export interface Truth {
  conns: TruthConn[];
  phases: TruthPhase[];
  marks: Record<string, number>;
  counts: Record<string, number>;
}

export function readTruth(file: string): Truth {
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const conns = lines.filter((l) => l.type === 'conn') as TruthConn[];
  const counts: Record<string, number> = {};
  for (const c of conns) counts[c.action] = (counts[c.action] ?? 0) + 1;
  const marks: Record<string, number> = {};
  for (const l of lines) if (l.type === 'mark') marks[l.mark] = l.at;
  return { conns, phases: lines.filter((l) => l.type === 'phase') as TruthPhase[], marks, counts };
}

/** An events.ndjson line: an attempt record with its times in ms since T0, and its phase. */
export type EventRow = AttemptRecord & { phase: string };

export function readEvents(dir: string): EventRow[] {
  return readFileSync(join(dir, 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** Runs a scenario that spawns `wsrace sim` (from source) with a truth file; returns both sides. */
export async function runAgainstSim(opts: { profile: string; simArgs?: string; body: string; workers?: number }): Promise<{ result: RunResult; truth: Truth; dir: string; port: number }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `wsrace-${opts.profile}-`));
  const truthFile = join(dir, 'truth.ndjson');
  const text = `name: sim-${opts.profile}
target:
  url: ws://127.0.0.1:${port}/ws
  handshakeTimeout: 3s
  start:
    command: '\${WSRACE} sim --profile ${opts.profile} --port ${port} --truth ${truthFile} ${opts.simArgs ?? ''}'
${opts.body}`.replaceAll('PORT', String(port)).replaceAll('DIR', dir);
  const loaded = parseScenarioText(text, `${opts.profile}.yaml`, {}, { ...process.env, WSRACE: WSRACE_FROM_SOURCE });
  const result = await runScenario(loaded, { outDir: join(dir, 'run'), workers: opts.workers ?? 2 });
  return { result, truth: readTruth(truthFile), dir: join(dir, 'run'), port };
}

/** Joins attempts with the simulator's records by the client's local port. */
export function join_(events: EventRow[], truth: Truth): { e: EventRow; t: TruthConn }[] {
  const byPort = new Map(truth.conns.map((c) => [Number(c.remote.split(':').pop()), c]));
  return events.filter((e) => e.lport !== undefined && byPort.has(e.lport)).map((e) => ({ e, t: byPort.get(e.lport!)! }));
}
