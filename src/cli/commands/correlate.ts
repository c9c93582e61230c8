import type { Argv, CommandModule } from 'yargs';
import { correlateRun } from '../../run/correlate.js';
import { renderSummary } from '../../report/console.js';

interface CorrelateArgs {
  runDir: string;
  timeline: string;
  json: boolean;
}

export const correlateCommand: CommandModule<object, CorrelateArgs> = {
  command: 'correlate <run-dir>',
  describe: 'Re-attribute a finished run against phase events supplied later ([{ "phase": "...", "at": ISO | epoch ms }])',
  builder: (y: Argv) =>
    y
      .positional('run-dir', { type: 'string', demandOption: true, describe: 'A run folder (with summary.json and events.ndjson)' })
      .option('timeline', { type: 'string', demandOption: true, describe: 'JSON list of { phase, at }; phase "ready"/"failed" are signals' })
      .option('json', { type: 'boolean', default: false, describe: 'Print summary.json instead of the table' }) as unknown as Argv<CorrelateArgs>,
  handler: async (argv) => {
    const summary = await correlateRun(argv.runDir, argv.timeline);
    process.stdout.write(argv.json ? JSON.stringify(summary, null, 2) + '\n' : renderSummary(summary, argv.runDir) + '\n');
    process.exitCode = summary.verdict === 'pass' ? 0 : 1;
  },
};
