import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runCommand } from './commands/run.js';
import { validateCommand } from './commands/validate.js';
import { simCommand } from '../sim/command.js';
import { correlateCommand } from './commands/correlate.js';
import { compareCommand } from './commands/compare.js';
import { reportCommand } from './commands/report.js';
import { mergeCommand } from './commands/merge.js';
import { EXIT, exitFor } from './exit.js';

const COMMANDS = ['run', 'validate', 'sim', 'correlate', 'compare', 'report', 'merge'];

/** The `wsrace` command line: a thin layer over the library (src/index.ts). */
export async function main(argv: string[] = hideBin(process.argv)): Promise<void> {
  const cli = yargs(argv)
    .scriptName('wsrace')
    .usage('$0 <command> [options]')
    .command(runCommand)
    .command(validateCommand)
    .command(simCommand)
    .command(correlateCommand)
    .command(compareCommand)
    .command(reportCommand)
    .command(mergeCommand)
    .demandCommand(1, `Give a command: ${COMMANDS.join(', ')}`)
    .strict()
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, err) => {
      if (err) throw err;
      process.stderr.write(`wsrace: ${withoutCamelCaseEchoes(message)}\nRun "${helpCommand(argv)}" for usage.\n`);
      process.exit(EXIT.badInput);
    });
  try {
    await cli.parseAsync();
  } catch (err) {
    const { code, message } = exitFor(err);
    process.stderr.write(`${message}\n`);
    process.exitCode = code;
  }
}

/** The help that answers a usage error: the command's own when the line named one ("wsrace sim --help"). */
export function helpCommand(args: readonly string[]): string {
  const command = args.find((a) => !a.startsWith('-'));
  return command !== undefined && COMMANDS.includes(command) ? `wsrace ${command} --help` : 'wsrace --help';
}

/** yargs reports an unknown --foo-bar twice (foo-bar, fooBar); show each once, as typed. */
export function withoutCamelCaseEchoes(message: string): string {
  const m = /^(Unknown arguments?): (.*)$/.exec(message);
  if (!m) return message;
  const names = m[2].split(', ');
  const kept = names.filter((n) => !names.some((o) => o !== n && o.includes('-') && o.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) === n));
  return `${kept.length === 1 ? 'Unknown argument' : 'Unknown arguments'}: ${kept.join(', ')}`;
}
