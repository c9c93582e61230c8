import { InputError } from '../scenario/errors.js';

/**
 * What was typed for a flag, for error messages: yargs turns a number flag's non-number into NaN,
 * and "--workers NaN" does not say what was wrong. Falls back to the parsed value.
 */
export function rawFlag(name: string, parsed: unknown, args: readonly string[] = process.argv): string {
  for (let i = args.length - 1; i >= 0; i--) {
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
    if (args[i] === `--${name}` && i + 1 < args.length) return args[i + 1];
  }
  return String(parsed);
}

/** A flag that must be a positive whole number (--workers, --processes), when given. */
export function checkPositiveWhole(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new InputError(`--${name} ${rawFlag(name, value)}: expected a positive whole number`);
}
