import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../../scenario/errors.js';
import { rawFlag } from '../raw-flag.js';
import { readSummary } from '../../run/correlate.js';
import { DEFAULT_COMPARE, compareRuns, loadRunSide, renderComparison, type CompareOptions } from '../../report/compare.js';

interface CompareArgs {
  baseline: string;
  candidate: string;
  'failure-tolerance': number;
  'latency-tolerance': number;
  'min-latency-delta': number;
  'min-samples': number;
  json: boolean;
}

/** Compare flags, shared by `compare` and `run --baseline`. */
export function compareOptions(y: Argv): Argv {
  return y
    .option('failure-tolerance', { type: 'number', default: DEFAULT_COMPARE.failureTolerancePp, describe: 'Allowed rise of the failure rate, percentage points' })
    .option('latency-tolerance', { type: 'number', default: DEFAULT_COMPARE.latencyTolerancePct, describe: 'Allowed rise of a handshake percentile, percent' })
    .option('min-latency-delta', { type: 'number', default: DEFAULT_COMPARE.minLatencyDeltaMs, describe: 'Latency rises below this many ms are never regressions' })
    .option('min-samples', { type: 'number', default: DEFAULT_COMPARE.minSamples, describe: 'Handshakes a scope needs in both runs before its percentiles are compared' })
    .check((argv) => {
      // A NaN tolerance would make every comparison false: no regression could ever be found.
      for (const flag of ['failure-tolerance', 'latency-tolerance', 'min-latency-delta', 'min-samples']) {
        const value = argv[flag] as number;
        // An empty value (--latency-tolerance=) would read as 0.
        if (!Number.isFinite(value) || value < 0 || rawFlag(flag, value).trim() === '') throw new InputError(`--${flag} ${rawFlag(flag, value)}: expected a number ≥ 0`);
      }
      return true;
    });
}

export function compareOptionsFrom(argv: Record<string, unknown>): CompareOptions {
  return {
    ...DEFAULT_COMPARE,
    failureTolerancePp: Number(argv['failure-tolerance'] ?? DEFAULT_COMPARE.failureTolerancePp),
    latencyTolerancePct: Number(argv['latency-tolerance'] ?? DEFAULT_COMPARE.latencyTolerancePct),
    minLatencyDeltaMs: Number(argv['min-latency-delta'] ?? DEFAULT_COMPARE.minLatencyDeltaMs),
    minSamples: Number(argv['min-samples'] ?? DEFAULT_COMPARE.minSamples),
  };
}

/** Compares two run folders, prints the table; returns true when the candidate regressed. */
export function compareDirs(baselineDir: string, candidateDir: string, options: CompareOptions, json: boolean, out: NodeJS.WritableStream = process.stdout): boolean {
  const base = loadRunSide(baselineDir, readSummary(baselineDir));
  const cand = loadRunSide(candidateDir, readSummary(candidateDir));
  const cmp = compareRuns(base, cand, options);
  out.write(json ? JSON.stringify({ baseline: base.dir, candidate: cand.dir, ...cmp }, null, 2) + '\n' : renderComparison(cmp, base, cand, options.percentiles) + '\n');
  return cmp.regressions.length > 0;
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare <baseline> <candidate>',
  describe: 'Compare two run folders per phase and in total; exit 1 on a regression',
  builder: (y: Argv) =>
    compareOptions(
      y
        .positional('baseline', { type: 'string', demandOption: true, describe: 'Baseline run folder (e.g. reports/<name>/latest)' })
        .positional('candidate', { type: 'string', demandOption: true, describe: 'Candidate run folder' })
        .option('json', { type: 'boolean', default: false }),
    ) as unknown as Argv<CompareArgs>,
  handler: (argv) => {
    const regressed = compareDirs(argv.baseline, argv.candidate, compareOptionsFrom(argv as unknown as Record<string, unknown>), argv.json);
    process.exitCode = regressed ? 1 : 0;
  },
};
