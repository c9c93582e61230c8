import { realpathSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { loadScenarioFile, type LoadedScenario, type ScenarioOverrides } from '../../scenario/load.js';
import { InputError } from '../../scenario/errors.js';
import { pointLatest } from '../../report/run-files.js';
import { renderSummary } from '../../report/console.js';
import { defaultOutDir, runScenario, type RunOptions } from '../../run/run.js';
import { isNice, isSpinBudget, NICE_EXPECTED, SPIN_EXPECTED } from '../../run/settings.js';
import { interruptHandler } from '../../run/interrupt.js';
import { runProcesses } from '../../run/processes.js';
import { progressPrinter } from '../progress.js';
import { EXIT } from '../exit.js';
import { parseShard, parseStartAt } from '../shard.js';
import { compareDirs, compareOptions, compareOptionsFrom } from './compare.js';
import { checkPositiveWhole, rawFlag } from '../raw-flag.js';
import { metricsFlags, metricsOptions, type MetricsArgs } from '../metrics-flags.js';

/** `run --baseline`: compare the finished run with it; true when it regressed. */
function compareWithBaseline(baseline: string | null, outDir: string, argv: RunArgs): boolean {
  if (!baseline) return false;
  process.stdout.write(`\nCompared with ${baseline}\n`);
  return compareDirs(baseline, outDir, compareOptionsFrom(argv as unknown as Record<string, unknown>), false, argv.json ? process.stderr : process.stdout);
}

/** One process: the run in this one, its progress on stderr. */
async function runHere(argv: RunArgs, loaded: LoadedScenario, options: Pick<RunOptions, 'shard' | 'startAt' | 'leader'>, baseline: string | null): Promise<void> {
  const interrupt = interruptHandler('stopping, closing sockets and writing the partial report', 'events.ndjson has what finished so far');
  const progress = progressPrinter(process.stderr, argv.quiet || argv.json);
  try {
    const result = await runScenario(loaded, {
      ...options,
      onWarning: (m) => process.stderr.write(`wsrace: ${m}\n`),
      outDir: argv.out,
      workers: argv.workers,
      spinBudget: argv.spin,
      nice: argv.nice,
      metrics: metricsOptions(argv),
      signal: interrupt.signal,
      onProgress: (p) => progress.update(p),
      onStart: ({ outDir, scheduled, onReadyBurst, workers }) => {
        const burst = onReadyBurst > 0 ? ` (+${onReadyBurst} when ready)` : '';
        if (!argv.quiet && !argv.json) process.stderr.write(`wsrace: ${loaded.scenario.name}: ${scheduled} attempts${burst} on ${workers} worker thread${workers === 1 ? '' : 's'} → ${outDir}\n`);
      },
    });
    progress.end();
    process.stdout.write(argv.json ? JSON.stringify(result.summary, null, 2) + '\n' : renderSummary(result.summary, result.outDir) + '\n');
    const regressed = compareWithBaseline(baseline, result.outDir, argv);
    const degraded = result.summary.workers.some((w) => w.error !== null);
    // A degraded run says so first: its thresholds were judged on partial data.
    process.exitCode = interrupt.exitCode() ?? (degraded ? EXIT.degraded : result.exitCode !== 0 ? result.exitCode : regressed ? EXIT.thresholdFailed : EXIT.ok);
  } finally {
    progress.end();
    interrupt.detach();
  }
}

/** `--processes N`: N local shard processes with a shared T0, merged into one run folder. */
async function runAsProcesses(argv: RunArgs, overrides: ScenarioOverrides, name: string, baseline: string | null): Promise<void> {
  const n = argv.processes!;
  const outDir = argv.out ?? defaultOutDir('reports', name);
  const interrupt = interruptHandler('stopping the shard processes and merging what they did', 'the shard processes are stopped with wsrace');
  if (!argv.quiet && !argv.json) process.stderr.write(`wsrace: ${name}: ${n} shard processes → ${outDir}\n`);
  const progress = progressPrinter(process.stderr, argv.quiet || argv.json);
  try {
    const { summary, exitCodes } = await runProcesses({
      scenarioFile: argv.scenario,
      overrides,
      processes: n,
      outDir,
      workers: argv.workers,
      spinBudget: argv.spin,
      nice: argv.nice,
      signal: interrupt.signal,
      onProgress: (p) => progress.update(p),
      onLine: (k, line) => {
        if (!line.startsWith('wsrace:')) return;
        progress.end();
        process.stderr.write(`[shard ${k}] ${line}\n`);
      },
    });
    progress.end();
    process.stdout.write(argv.json ? JSON.stringify(summary, null, 2) + '\n' : renderSummary(summary, outDir) + '\n');
    const regressed = compareWithBaseline(baseline, outDir, argv);
    pointLatest(outDir, name);
    const failed = exitCodes.some((c) => c !== EXIT.ok && c !== EXIT.thresholdFailed);
    process.exitCode = interrupt.exitCode() ?? (failed ? EXIT.degraded : summary.verdict === 'fail' || regressed ? EXIT.thresholdFailed : EXIT.ok);
  } finally {
    progress.end();
    interrupt.detach();
  }
}

/** The first night has no baseline yet: say so and run without comparing. */
function resolveBaseline(dir: string): string | null {
  try {
    return realpathSync(dir);
  } catch {
    process.stderr.write(`wsrace: --baseline ${dir}: no such run folder yet; running without a comparison\n`);
    return null;
  }
}

export interface RunArgs extends MetricsArgs {
  scenario: string;
  out?: string;
  target?: string;
  workers?: number;
  spin?: number;
  nice?: number;
  set?: string[];
  quiet: boolean;
  json: boolean;
  baseline?: string;
  'yes-really-target'?: string[];
  shard?: string;
  'start-at'?: string;
  leader?: number;
  processes?: number;
  'local-address'?: string[];
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <scenario>',
  describe: 'Run a scenario: open connections on its schedule, record every outcome, write the run folder',
  builder: (y: Argv) =>
    metricsFlags(compareOptions(y))
      .positional('scenario', { type: 'string', demandOption: true, describe: 'Scenario file (YAML or JSON)' })
      .option('out', { type: 'string', describe: 'Run folder (default reports/<name>/<UTC timestamp>/)' })
      .option('target', { type: 'string', describe: 'Override target.url' })
      .option('workers', { type: 'number', describe: 'Worker threads (default: available CPUs − 1, at least 1)' })
      .option('spin', { type: 'number', describe: 'Fraction of each worker\'s time it may busy-wait before starts, 0–1 (default 1 while the workers leave a core free, else 0.25, or 0 with --nice below 0; lower it when the target shares the CPUs)' })
      .option('nice', { type: 'number', describe: 'Run the worker threads at this nice, -20 to 19 (Linux): below 0 favours the schedule over a target on this machine (and --spin defaults to 0 when the workers take every core), above 0 favours the target; below the process\'s needs CAP_SYS_NICE or RLIMIT_NICE' })
      .option('set', { type: 'string', array: true, describe: 'Override a scenario key: --set load.stages[0].rate=50' })
      .option('quiet', { type: 'boolean', default: false, describe: 'No progress line' })
      .option('json', { type: 'boolean', default: false, describe: 'Print summary.json to stdout instead of the table' })
      .option('shard', { type: 'string', describe: 'Run stripe K of N of the global schedule (K/N); shard 0 causes and watches the cold start' })
      .option('leader', { type: 'number', describe: 'With --shard: the shard that causes and watches the cold start (default 0)' })
      .option('start-at', { type: 'string', describe: 'Shared T0 for all shards (ISO time or epoch ms); the run waits for it' })
      .option('processes', { type: 'number', describe: 'Run N local shard processes and merge them (more sockets than one process may hold)' })
      .option('local-address', { type: 'string', array: true, describe: 'Source addresses to rotate: list, range 127.0.0.2-127.0.0.40, or CIDR' })
      .option('yes-really-target', { type: 'string', array: true, describe: 'Allow loading this non-loopback host above a modest rate (same as target.allowHosts)' })
      .option('baseline', { type: 'string', describe: 'Compare with this run folder afterwards (e.g. reports/<name>/latest); a regression exits 1' })
      .check((argv) => {
        checkPositiveWhole('workers', argv.workers);
        if (argv.spin !== undefined && !isSpinBudget(argv.spin)) throw new InputError(`--spin ${rawFlag('spin', argv.spin)}: expected ${SPIN_EXPECTED}`);
        if (argv.nice !== undefined && !isNice(argv.nice)) throw new InputError(`--nice ${rawFlag('nice', argv.nice)}: expected ${NICE_EXPECTED}`);
        checkPositiveWhole('processes', argv.processes);
        return true;
      }) as unknown as Argv<RunArgs>,
  handler: async (argv) => {
    const overrides: ScenarioOverrides = { set: argv.set, target: argv.target, workers: argv.workers, allowHosts: argv['yes-really-target'], localAddresses: argv['local-address'] };
    const loaded = loadScenarioFile(argv.scenario, overrides);
    const shard = argv.shard !== undefined ? parseShard(argv.shard) : undefined;
    if (argv.leader !== undefined && (!shard || !Number.isInteger(argv.leader) || argv.leader < 0 || argv.leader >= shard.count)) {
      throw new InputError(`--leader ${argv.leader}: expected a shard index 0 ≤ K < N, with --shard K/N`);
    }
    const startAt = argv['start-at'] !== undefined ? parseStartAt(argv['start-at']) : undefined;
    // Resolve the baseline now: reports/<name>/latest will point at this run once it ends.
    const baseline = argv.baseline !== undefined ? resolveBaseline(argv.baseline) : null;
    if (argv.processes !== undefined && argv.processes > 1) {
      if (shard) throw new InputError('--processes and --shard do not go together: --processes runs the shards itself');
      if (Object.keys(metricsOptions(argv) ?? {}).length > 0 || loaded.scenario.output?.prometheus) {
        throw new InputError('live metrics (--metrics-listen, --pushgateway, --remote-write, output.prometheus) do not go with --processes yet: run the shards with --shard K/N, each with its own');
      }
      return runAsProcesses(argv, overrides, loaded.scenario.name, baseline);
    }
    return runHere(argv, loaded, { shard, startAt, leader: argv.leader }, baseline);
  },
};
