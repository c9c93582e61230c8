import type { Aborted } from './abort.js';
import type { Summary } from '../report/summary.js';
import type { Progress } from './recorder.js';
import type { ExportSettings } from '../metrics/exports.js';

export interface RunOptions {
  /** Run folder; default reports/<name>/<UTC timestamp>/ under `reportsDir`. */
  outDir?: string;
  reportsDir?: string;
  workers?: number;
  /**
   * Fraction of each worker's time it may busy-wait through the last 1.5 ms before a start, 0–1
   * (`--spin`). Default 1 while the workers leave a core free, else 0.25, or 0 with a `nice`
   * below 0 (`--processes` passes
   * the budget for all its shards' workers on this machine); lower
   * it when the target shares the machine and needs the CPU: starts then ride timers and run
   * late (by how much: docs/performance.md). Out of range: InputError.
   */
  spinBudget?: number;
  /**
   * The nice every worker thread runs at (`--nice`, −20 to 19; Linux). Below 0 favours the
   * schedule over a target on the same machine (and the spin budget defaults to 0 when the workers
   * take every core); above 0 favours the target. A nice below the process's needs CAP_SYS_NICE or
   * RLIMIT_NICE: without it the workers keep theirs and onWarning says so. Default: nice −10 as a
   * favour only when the workers spin with a core to spare (priority.ts).
   */
  nice?: number;
  /** Aborting it stops the run gracefully (Ctrl-C): the summary is written with partial: true. */
  signal?: AbortSignal;
  /**
   * Aborting it stops the run as its own abortOnFail threshold would, its reason the threshold's
   * expression: a `--processes` shard stopped because another shard's threshold failed.
   */
  abortSignal?: AbortSignal;
  /** An abortOnFail threshold failed: the run is stopping (the line is also given to onWarning). */
  onAbort?(aborted: Aborted): void;
  onProgress?(p: Progress): void;
  /** Called once with the run folder, before any attempt. */
  onStart?(info: { outDir: string; scheduled: number; onReadyBurst: number; workers: number; capacity: number }): void;
  /** Run stripe K of N of the global schedule (`--shard K/N`); shard 0 causes and watches the cold start. */
  shard?: { index: number; count: number };
  /** Epoch ms of T0 shared by all shards (`--start-at`); the run waits for it. */
  startAt?: number;
  /** The shard that causes and watches the cold start (`--leader K`, default 0). */
  leader?: number;
  /**
   * Live metrics' ways out (--metrics-listen, --metrics-linger, --pushgateway, --remote-write):
   * each given one overrides the scenario's output.prometheus key of the same name.
   */
  metrics?: Omit<ExportSettings, 'remoteWriteHeaders'>;
  /** Warnings for the console (a late start, clock skew). */
  onWarning?(message: string): void;
}

export interface RunResult {
  summary: Summary;
  outDir: string;
  /** 0 pass, 1 a threshold failed (exit codes 2 and 3 are thrown as InputError / RunError). */
  exitCode: number;
}
