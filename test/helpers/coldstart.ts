import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenarioText } from '../../src/scenario/load.js';
import { runScenario, type RunResult } from '../../src/run/run.js';
import type { AttemptRecord } from '../../src/record/attempt.js';
import type { MessageLine } from '../../src/record/messages.js';
import { expect } from 'vitest';
import { CROSS_PROCESS_CLOCK_MS } from './slack.js';

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
  /** When the simulator wrote the line's truth: just after the log line, later if it was preempted between. */
  at: number;
  /** When its plan said (ms from its T0): it never writes the log line before. */
  plannedMs: number;
  phase: string;
}
/** A stream ping the simulator received, and what became of it (src/sim/stream.ts). */
export interface TruthMsg {
  type: 'msg';
  /** When it arrived (epoch ms, the simulator's clock). */
  at: number;
  atMs: number;
  connId: string;
  remote: string;
  seq: number;
  /** The simulator's phase when it arrived. */
  phase: string;
  action: 'replied' | 'dropped' | 'unsent';
  why?: 'first' | 'loss_window';
  delayMs?: number;
  replyAt?: number;
}
export interface Truth {
  /** The simulator's T0 (its process up, its startup begun); null if it never got that far. */
  t0: number | null;
  conns: TruthConn[];
  /** Stream pings, in the order their fates were settled. */
  msgs: TruthMsg[];
  /** The start line's plan (wall ms after t0; warmDelayMs/warmMs in racy). */
  plan: Record<string, unknown> | null;
  phases: TruthPhase[];
  marks: Record<string, number>;
  counts: Record<string, number>;
}

/** The simulator's truth file; empty when the simulator never wrote one. */
export function readTruth(file: string): Truth {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const lines = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  const conns = lines.filter((l) => l.type === 'conn') as TruthConn[];
  const counts: Record<string, number> = {};
  for (const c of conns) counts[c.action] = (counts[c.action] ?? 0) + 1;
  const marks: Record<string, number> = {};
  for (const l of lines) if (l.type === 'mark') marks[l.mark] = l.at;
  const start = lines.find((l) => l.type === 'start');
  return {
    t0: start ? start.t0 : null,
    conns,
    msgs: lines.filter((l) => l.type === 'msg') as TruthMsg[],
    plan: start ? start.plan : null,
    phases: lines.filter((l) => l.type === 'phase') as TruthPhase[],
    marks,
    counts,
  };
}

/**
 * The run's load went on for `afterMs` after the simulator was ready (or had failed), by its own
 * clock. Its process takes ~0.3 s to come up on an idle machine and seconds on a busy one, where
 * its phases also run late: this says so plainly instead of letting a phase the load never
 * reached fail a count.
 */
export function expectLoadCovers(result: RunResult, truth: Truth, afterMs: number): void {
  const s = result.summary;
  expect(truth.t0, 'the simulator never started during the run').not.toBeNull();
  const end = truth.phases.find((p) => p.phase === 'ready' || p.phase === 'failed');
  const upAfter = truth.t0! - s.t0EpochMs;
  expect(end, `the simulator came up ${upAfter.toFixed(0)} ms after T0 and was neither ready nor failed by the end of the load`).toBeDefined();
  const endMs = end!.at - s.t0EpochMs;
  expect(endMs + afterMs, `the simulator came up ${upAfter.toFixed(0)} ms after T0 and was ${end!.phase} at ${endMs.toFixed(0)} ms: the load (${s.schedule.durationMs} ms) ended before ${afterMs} ms more`).toBeLessThanOrEqual(s.schedule.durationMs);
}

/** An events.ndjson line: an attempt record with its times in ms since T0, and its phase. */
export type EventRow = AttemptRecord & { phase: string };

export function readEvents(dir: string): EventRow[] {
  return readFileSync(join(dir, 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** A messages.ndjson line (times in ms since T0) with its phase. */
export type MessageRow = MessageLine & { phase: string };

export function readMessages(dir: string): MessageRow[] {
  return readFileSync(join(dir, 'messages.ndjson'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
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

/**
 * Joins attempts with the simulator's records by the client's local port. Loopback reuses ports
 * (net.ipv4.tcp_tw_reuse = 2 lets connect() take a local port still in TIME_WAIT), so one port can
 * carry several connections in a run; they follow one another, so on each port the k-th attempt
 * to connect (by start) is the k-th connection the simulator saw (by arrival).
 */
export function join_(events: EventRow[], truth: Truth): { e: EventRow; t: TruthConn }[] {
  return joinByPort(events, truth.conns);
}

/** join_ for any server's connection records: `remote` is "host:port", `at` when it arrived (epoch ms). */
export function joinByPort<T extends object>(events: EventRow[], conns: T[]): { e: EventRow; t: T }[] {
  const field = (c: T, k: 'remote' | 'at') => (c as Record<string, unknown>)[k];
  const byPort = new Map<number, T[]>();
  for (const c of [...conns].sort((a, b) => Number(field(a, 'at')) - Number(field(b, 'at')))) {
    const port = Number(String(field(c, 'remote')).split(':').pop());
    byPort.set(port, [...(byPort.get(port) ?? []), c]);
  }
  const taken = new Map<number, number>();
  const pairs: { e: EventRow; t: T }[] = [];
  for (const e of events.filter((x) => x.lport !== undefined).sort((a, b) => a.start! - b.start!)) {
    const k = taken.get(e.lport!) ?? 0;
    const t = byPort.get(e.lport!)?.[k];
    if (t === undefined) continue;
    taken.set(e.lport!, k + 1);
    pairs.push({ e, t });
  }
  return pairs.sort((a, b) => a.e.i - b.e.i);
}

/** A timeline.ndjson line: one event a timeline source reported, `ms` since T0. */
export interface TimelineRow {
  ms: number;
  kind: string;
  source: string;
  phase?: string;
}

export function readTimelineEvents(dir: string): TimelineRow[] {
  return readFileSync(join(dir, 'timeline.ndjson'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/**
 * The two processes' clocks agree to within CROSS_PROCESS_CLOCK_MS on this run's own data, as
 * causality demands, one direction each: every attempt the simulator saw was started (wsrace's
 * clock) before the simulator handled it (its clock); no phase line wsrace read from the log was
 * read before the simulator's plan had it written (the simulator never runs ahead of its plan).
 */
export function expectClocksAgree(pairs: { e: EventRow; t: TruthConn }[], truth: Truth, t0: number, timeline: TimelineRow[]): void {
  const late = pairs.filter(({ e, t }) => t0 + e.start! > t.at + CROSS_PROCESS_CLOCK_MS).map(({ e, t }) => `#${e.i} started ${(t0 + e.start! - t.at).toFixed(3)} ms after the simulator saw it`);
  const early = timeline
    .filter((x) => x.kind === 'phase' && x.source === 'log')
    .map((x) => ({ x, truth: truth.phases.find((p) => p.phase === x.phase) }))
    .filter(({ x, truth: p }) => p !== undefined && t0 + x.ms < truth.t0! + p.plannedMs - CROSS_PROCESS_CLOCK_MS)
    .map(({ x, truth: p }) => `${x.phase} read ${(truth.t0! + p!.plannedMs - t0 - x.ms).toFixed(3)} ms before its planned time`);
  expect([...late, ...early], 'the clocks of wsrace and the simulator disagree').toEqual([]);
}

/**
 * The cold-start tests' scenario parts. Profiles at 1/10 time: the whole startup takes ~2 s after
 * the simulator's process is up (its shortest windows, tens of ms, stay wider than a starved
 * simulator's late timers). That process takes ~0.3 s to come up on an idle machine and seconds
 * on a busy one, so the load runs 7 s: enough for a start of up to ~4.5 s (expectLoadCovers says
 * so when it was slower).
 */
export const SCALE = '--time-scale 0.1';
export const SECONDS = 7;
/** Load after the simulator is ready (or has failed), for the attempts that check what comes after. */
export const AFTER_MS = 300;
export const LOAD = (seconds: number, rate: number) => `load:\n  stages:\n    - { duration: ${seconds}s, rate: ${rate} }\n`;
export const PING = `session:\n  hold: 100ms\n  send: ['{"type":"ping"}']\n  expect: { match: '"type":"pong"', within: 500ms }\n`;
export const TIMELINE = (readyFrom = 'health') => `timeline:\n  log: { from: target }\n  health: { url: "http://127.0.0.1:PORT/health", interval: 25ms }\n  readyFrom: ${readyFrom}\n`;
