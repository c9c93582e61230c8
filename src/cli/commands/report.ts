import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { readSummary } from '../../run/correlate.js';
import { renderSummary } from '../../report/console.js';
import { renderHtmlReport } from '../../report/html.js';
import { loadReportData } from '../../report/html-data.js';

interface ReportArgs {
  runDir: string;
  html: boolean;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <run-dir>',
  describe: 'Re-render the console summary and report.html from a run folder alone',
  builder: (y: Argv) =>
    y
      .positional('run-dir', { type: 'string', demandOption: true, describe: 'A run folder' })
      .option('html', { type: 'boolean', default: true, describe: 'Also rewrite report.html (--no-html to skip)' }) as unknown as Argv<ReportArgs>,
  handler: async (argv) => {
    const summary = readSummary(argv.runDir);
    if (argv.html) writeFileSync(join(argv.runDir, 'report.html'), renderHtmlReport(await loadReportData(argv.runDir)));
    process.stdout.write(renderSummary(summary, argv.runDir) + '\n');
    process.exitCode = summary.verdict === 'pass' ? 0 : 1;
  },
};
