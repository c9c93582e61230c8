import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `code` as an ES module in a fresh Node process at the project's root (TypeScript through
 * tsx), with `nodeFlags` before it (e.g. --allow-natives-syntax), and returns what it wrote to stdout.
 */
export function runProbe(code: string, nodeFlags: string[] = []): string {
  return execFileSync(process.execPath, [...nodeFlags, '--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
}
