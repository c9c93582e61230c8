import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { timeLeft } from './budget.js';

/** The built CLI, as users run it: test/global-setup.ts builds dist/ before the suite. */
const ENTRY = fileURLToPath(new URL('../../bin/wsrace.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built wsrace CLI in a child process, bounded by `timeoutMs`: by default
 * what is left of the running test's timeout, so a hung CLI fails the test with its stderr.
 */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; onSpawn?: (pid: number) => void; onStderr?: (text: string) => void; shellPrefix?: string; wrap?: string[] } = {},
): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? timeLeft();
  return new Promise((resolve, reject) => {
    // wrap: a command that runs the CLI (e.g. setpriv with a capability dropped).
    const argv = [...(options.wrap ?? []), process.execPath, ENTRY, ...args];
    // shellPrefix (e.g. "ulimit -Hn 800; ") runs in a shell that then execs the CLI, so limits apply to it.
    const child = options.shellPrefix
      ? spawn('/bin/bash', ['-c', `${options.shellPrefix}exec ${argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')}`], { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      options.onStderr?.(stderr);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`wsrace ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    if (child.pid) options.onSpawn?.(child.pid);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Give the pipes a tick to flush.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
}
