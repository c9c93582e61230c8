import { dirname, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { connectionSettings } from '../../run/settings.js';
import { loadScenarioFile } from '../../scenario/load.js';
import { checkPositiveWhole } from '../raw-flag.js';
import { scheduledCount, scheduleDurationMs, peakRate } from '../../schedule/arrival.js';
import { stagesOf } from '../../scenario/stages.js';
import { formatDuration } from '../../util/duration.js';

interface ValidateArgs {
  scenario: string;
  set?: string[];
  target?: string;
  workers?: number;
  'local-address'?: string[];
  'yes-really-target'?: string[];
}

export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: 'validate <scenario>',
  describe: 'Check a scenario without running it (exit 2 with the file, key and expectation when it is wrong)',
  builder: (y: Argv) =>
    y
      .positional('scenario', { type: 'string', demandOption: true })
      .option('set', { type: 'string', array: true, describe: 'Override a scenario key: --set load.stages[0].rate=50' })
      .option('target', { type: 'string', describe: 'Override target.url' })
      // The flags `run` applies before it validates, so that validate judges the same scenario.
      .option('workers', { type: 'number', describe: 'As for run' })
      .option('local-address', { type: 'string', array: true, describe: 'As for run' })
      .option('yes-really-target', { type: 'string', array: true, describe: 'As for run' })
      .check((argv) => {
        checkPositiveWhole('workers', argv.workers as number | undefined);
        return true;
      }) as unknown as Argv<ValidateArgs>,
  handler: (argv) => {
    const { scenario } = loadScenarioFile(argv.scenario, { set: argv.set, target: argv.target, workers: argv.workers, allowHosts: argv['yes-really-target'], localAddresses: argv['local-address'] });
    // The files a scenario names (target.tls.ca, session.users) are read and checked as a run would.
    connectionSettings(scenario, dirname(resolve(argv.scenario)), argv.scenario);
    const stages = stagesOf(scenario);
    const pop = scenario.load.population;
    const load = [
      ...(stages.length > 0 ? [`${scheduledCount(stages)} attempts over ${formatDuration(scheduleDurationMs(stages))} (peak ${peakRate(stages)}/s)`] : []),
      ...(pop ? [`${pop.clients} connected clients (over ${formatDuration(pop.over)}, for ${formatDuration(scenario.load.duration ?? 0)})`] : []),
    ].join(' and ');
    process.stdout.write(`${argv.scenario}: ok — "${scenario.name}": ${load} against ${scenario.target.url}, ${scenario.thresholds.length} threshold(s)\n`);
  },
};
