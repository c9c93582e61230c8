import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runCommand } from './commands/run.js';
import { validateCommand } from './commands/validate.js';
import { EXIT, exitFor } from './exit.js';

/** The `wsrace` command line: a thin layer over the library (src/index.ts). */
export async function main(argv: string[] = hideBin(process.argv)): Promise<void> {
  const cli = yargs(argv)
    .scriptName('wsrace')
    .parserConfiguration({ 'camel-case-expansion': false })
    .usage('$0 <command> [options]')
    .command(runCommand)
    .command(validateCommand)
    .demandCommand(1, 'Give a command: run, validate')
    .strict()
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, err) => {
      if (err) throw err;
      process.stderr.write(`wsrace: ${message}\nRun "wsrace --help" for usage.\n`);
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
