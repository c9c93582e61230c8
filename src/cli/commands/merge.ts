import type { Argv, CommandModule } from 'yargs';
import { mergeRuns } from '../../run/merge.js';
import { renderSummary } from '../../report/console.js';

interface MergeArgs {
  runDirs: string[];
  out: string;
  json: boolean;
}

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: 'merge <run-dirs..>',
  describe: 'Merge shard run folders into one (histograms added, counts summed, events in time order)',
  builder: (y: Argv) =>
    y
      .positional('run-dirs', { type: 'string', array: true, demandOption: true, describe: 'Shard run folders' })
      .option('out', { type: 'string', demandOption: true, describe: 'Folder for the merged run' })
      .option('json', { type: 'boolean', default: false }) as unknown as Argv<MergeArgs>,
  handler: async (argv) => {
    const summary = await mergeRuns(argv.runDirs, argv.out);
    process.stdout.write(argv.json ? JSON.stringify(summary, null, 2) + '\n' : renderSummary(summary, argv.out) + '\n');
    process.exitCode = summary.verdict === 'pass' ? 0 : 1;
  },
};
