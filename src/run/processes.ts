import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { wsraceBin } from '../util/self.js';
import { mergeRuns } from './merge.js';
import { RunError } from './errors.js';
import { InputError } from '../scenario/errors.js';
import { killOnExit } from '../target/process.js';
import { LineSplitter } from '../util/lines.js';
import type { Summary } from '../report/summary.js';

export interface ProcessesOptions {
  scenarioFile: string;
  processes: number;
  outDir: string;
  /** Flags passed to every shard process as they are (--set, --target, --workers, …). */
  passThrough: string[];
  /** Lead time before the shared T0, for the processes to start and warm up (default 2 s + 1 s each). */
  leadMs?: number;
  onLine?(shard: number, line: string): void;
  /** Aborting it passes the signal (its reason: SIGINT or SIGTERM) on to every shard process. */
  signal?: AbortSignal;
}

/**
 * Runs N shard processes of one scenario on this machine (each with its own descriptor limit)
 * and merges them: for more sockets than one process may hold. Every process is `wsrace run
 * --shard k/N --start-at T0`; shard 0 causes and watches the cold start.
 */
export async function runProcesses(options: ProcessesOptions): Promise<{ summary: Summary; exitCodes: (number | null)[] }> {
  const bin = wsraceBin();
  // Every shard warms its workers up before T0 (about 1.2 s alone, at most 2.5 s); N of them share the CPUs.
  const startAt = Date.now() + (options.leadMs ?? 2000 + 1000 * options.processes);
  mkdirSync(options.outDir, { recursive: true });
  const dirs: string[] = [];
  // Each shard's last stderr lines: when none could run, its own message says why.
  const stderrTails: string[][] = Array.from({ length: options.processes }, () => []);
  const runs = Array.from({ length: options.processes }, (_, k) => {
    const dir = join(options.outDir, `shard-${k}`);
    dirs.push(dir);
    const args = [bin, 'run', options.scenarioFile, '--shard', `${k}/${options.processes}`, '--start-at', new Date(startAt).toISOString(), '--out', dir, '--quiet', ...options.passThrough];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const forget = killOnExit(child.pid);
    for (const stream of [child.stdout!, child.stderr!]) {
      const lines = new LineSplitter((line) => {
        if (stream === child.stderr) stderrTails[k] = [...stderrTails[k].slice(-19), line];
        options.onLine?.(k, line);
      });
      stream.setEncoding('utf8').on('data', (d: string) => lines.push(d));
    }
    const onAbort = () => {
      const sig = options.signal?.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
      if (child.exitCode === null) child.kill(sig);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise<number | null>((resolve) => {
      // 'close', not 'exit': its stderr is then read to the end (the reason a shard could not run).
      child.on('close', (code) => {
        forget();
        options.signal?.removeEventListener('abort', onAbort);
        resolve(code);
      });
      child.on('error', () => resolve(null));
    });
  });
  const exitCodes = await Promise.all(runs);
  // Shards that could not run at all (bad input, no descriptors) have no folder to merge.
  const usable = dirs.filter((_, k) => exitCodes[k] !== 2 && exitCodes[k] !== 3 && exitCodes[k] !== null);
  if (usable.length === 0) {
    const message = `no shard process could run (exit codes ${exitCodes.map((c) => c ?? 'none').join(', ')}); shard 0 said:\n${stderrTails[0].join('\n') || '(nothing)'}`;
    throw exitCodes[0] === 2 ? new InputError(message) : new RunError(message);
  }
  const summary = await mergeRuns(usable, options.outDir);
  return { summary, exitCodes };
}
