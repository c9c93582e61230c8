import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScenarioOverrides } from '../scenario/load.js';
import { InputError } from '../scenario/errors.js';
import { killOnExit } from '../target/process.js';
import { LineSplitter } from '../util/lines.js';
import type { Summary } from '../report/summary.js';
import { mergeRuns } from './merge.js';
import { endedProgress, mergeProgress } from './progress-merge.js';
import type { Progress } from './recorder.js';
import { RunError } from './errors.js';
import { recorderNodeFlags } from './node-flags.js';
import { checkNiceOption, localSpinBudget } from './settings.js';
import type { StopSignal } from './interrupt.js';

export interface ProcessesOptions {
  scenarioFile: string;
  /** Flag values every shard process applies to the scenario (--set, --target, --local-address, --yes-really-target). */
  overrides?: ScenarioOverrides;
  processes: number;
  outDir: string;
  /** Worker threads per shard process (default 1). */
  workers?: number;
  /** Spin budget of every shard's workers; default: the budget for all the shards' workers on this machine. */
  spinBudget?: number;
  /** The nice of every shard's workers (`--nice`; RunOptions.nice). */
  nice?: number;
  /** Lead time before the shared T0, for the processes to start and warm up (default 2 s + 1 s each). */
  leadMs?: number;
  /** Each line a shard process writes on stdout or stderr. */
  onLine?(shard: number, line: string): void;
  /** Aborting it passes the signal (its reason: SIGINT or SIGTERM) on to every shard process. */
  signal?: AbortSignal;
  /** Every second while the shards run: their latest progress, added up (progress-merge.ts). */
  onProgress?(p: Progress): void;
}

/** What a shard process is told to run: JSON over its IPC channel (shard-process.ts). */
export interface ShardProcessOptions {
  scenarioFile: string;
  overrides: ScenarioOverrides;
  shard: { index: number; count: number };
  /** Epoch ms of the shared T0. */
  startAt: number;
  outDir: string;
  workers: number;
  spinBudget: number;
  nice?: number;
}

/** Parent → shard process; `abort`: another shard's abortOnFail threshold failed, stop as it did. */
export type ToShard = { type: 'run'; options: ShardProcessOptions } | { type: 'stop'; reason: StopSignal } | { type: 'abort'; expr: string };
/** Shard process → parent: its progress every second, `aborted` when its abortOnFail threshold fails, then once how it ended, before it exits with `exitCode`. */
export type FromShard = { type: 'progress'; progress: Progress } | { type: 'aborted'; expr: string } | ShardOutcome;
export type ShardOutcome = { type: 'finished'; exitCode: number } | { type: 'failed'; exitCode: number; message: string };

interface ShardEnd {
  /** The process's exit code; null when it could not start or was killed. */
  code: number | null;
  /** Why it could not run, in its own words: its report, else its last stderr lines. */
  said: string;
}

/**
 * Runs N shard processes of one scenario on this machine (each with its own descriptor limit)
 * and merges them: for more sockets than one process may hold. Each is a shard K/N sharing one
 * T0 (--start-at); shard 0 causes and watches the cold start.
 */
export async function runProcesses(options: ProcessesOptions): Promise<{ summary: Summary; exitCodes: (number | null)[] }> {
  const n = options.processes;
  const workers = options.workers ?? 1;
  // Checked here, not by N shard processes each failing on it.
  checkNiceOption(options.nice);
  // Every shard warms its workers up before T0, and N of them share the CPUs (how long: docs/performance.md).
  const startAt = Date.now() + (options.leadMs ?? 2000 + 1000 * n);
  mkdirSync(options.outDir, { recursive: true });
  const dirs = Array.from({ length: n }, (_, k) => join(options.outDir, `shard-${k}`));
  // Each shard judges its abortOnFail thresholds on its own share; the first to fail stops them all.
  const aborted = new AbortController();
  const latest = new Map<number, Progress>();
  const progress = options.onProgress ? setInterval(() => tellProgress(latest, options.onProgress!), 1000).unref() : null;
  // A shard that ended keeps its counts in the sum, but none of its sockets is open any more.
  const shardEnded = (k: number) => latest.has(k) && latest.set(k, endedProgress(latest.get(k)!));
  let ends: ShardEnd[];
  try {
    ends = await Promise.all(
      dirs.map((dir, k) =>
        runShardProcess(k, { ...options, aborted, onShardProgress: (p) => latest.set(k, p) }, {
          scenarioFile: options.scenarioFile,
          overrides: { ...options.overrides, workers },
          shard: { index: k, count: n },
          startAt,
          outDir: dir,
          workers,
          // The N shards share this machine's cores: the default budget counts all their workers.
          spinBudget: options.spinBudget ?? localSpinBudget(workers * n, options.nice),
          nice: options.nice,
        }).finally(() => shardEnded(k)),
      ),
    );
  } finally {
    if (progress) clearInterval(progress);
  }
  const exitCodes = ends.map((e) => e.code);
  // Shards that could not run at all (bad input, no descriptors) have no folder to merge.
  const usable = dirs.filter((_, k) => exitCodes[k] !== 2 && exitCodes[k] !== 3 && exitCodes[k] !== null);
  if (usable.length === 0) {
    const message = `no shard process could run (exit codes ${exitCodes.map((c) => c ?? 'none').join(', ')}); shard 0 said:\n${ends[0].said || '(nothing)'}`;
    throw exitCodes[0] === 2 ? new InputError(message) : new RunError(message);
  }
  const summary = await mergeRuns(usable, options.outDir);
  return { summary, exitCodes };
}

function tellProgress(latest: Map<number, Progress>, onProgress: (p: Progress) => void): void {
  const merged = mergeProgress([...latest.values()]);
  if (merged) onProgress(merged);
}

/** Starts one shard process with its options and resolves when it has exited and its output is read. */
function runShardProcess(k: number, options: ProcessesOptions & { aborted: AbortController; onShardProgress(p: Progress): void }, shard: ShardProcessOptions): Promise<ShardEnd> {
  const { filename, execArgv } = shardEntry();
  const child = fork(filename, [], { execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
  const forget = killOnExit(child.pid);
  // Its last stderr lines: when it dies without a report, they say why.
  let stderrTail: string[] = [];
  let report: ShardOutcome | null = null;
  for (const stream of [child.stdout!, child.stderr!]) {
    const lines = new LineSplitter((line) => {
      if (stream === child.stderr) stderrTail = [...stderrTail.slice(-19), line];
      options.onLine?.(k, line);
    });
    stream.setEncoding('utf8').on('data', (d: string) => lines.push(d));
  }
  child.on('message', (msg: FromShard) => {
    if (msg.type === 'progress') options.onShardProgress(msg.progress);
    else if (msg.type === 'aborted') options.aborted.abort(msg.expr);
    else report = msg;
  });
  const onAbort = () => stopShard(child, options.signal?.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const onShardAborted = () => tellShard(child, { type: 'abort', expr: String(options.aborted.signal.reason) });
  options.aborted.signal.addEventListener('abort', onShardAborted, { once: true });
  child.send({ type: 'run', options: shard } satisfies ToShard, () => {});
  return new Promise<ShardEnd>((resolve) => {
    const said = () => (report?.type === 'failed' ? report.message : stderrTail.join('\n'));
    // 'close', not 'exit': its stderr is then read to the end (the reason a shard could not run).
    child.on('close', (code) => {
      forget();
      options.signal?.removeEventListener('abort', onAbort);
      options.aborted.signal.removeEventListener('abort', onShardAborted);
      resolve({ code, said: said() });
    });
    child.on('error', () => resolve({ code: null, said: said() }));
  });
}

/**
 * Passes the parent's interrupt on. Over the channel it stops the run as a first signal would,
 * even when the terminal's Ctrl-C reached the shard too (a second signal would cut it short).
 */
function stopShard(child: ChildProcess, sig: StopSignal): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.connected) tellShard(child, { type: 'stop', reason: sig });
  else child.kill(sig);
}

/** A message to a shard process still listening; one that has gone has nothing left to stop. */
function tellShard(child: ChildProcess, msg: ToShard): void {
  if (child.exitCode === null && child.signalCode === null && child.connected) child.send(msg, () => {});
}

/** The compiled entry beside this file, or the TypeScript source under tsx (tests), with a recording process's flags. */
export function shardEntry(): { filename: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return { filename: here.replace(/processes\.ts$/, 'shard-process.ts'), execArgv: [...recorderNodeFlags(), '--import', 'tsx'] };
  return { filename: here.replace(/processes\.js$/, 'shard-process.js'), execArgv: recorderNodeFlags() };
}
