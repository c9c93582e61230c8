import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Builds dist/ once before the suite, exactly as `npm run build` does (report.html's script and
 * style are checked and copied there too): tests that spawn `wsrace sim` as a separate process
 * run the compiled CLI (a fast start, like a user's), and must not run a stale build.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}
