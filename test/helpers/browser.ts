import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The Chromium the report.html test drives, in this order: CHROMIUM_PATH; else the system's
 * (/usr/bin/chromium, or chromium, chromium-browser, google-chrome, google-chrome-stable on
 * PATH); else the headless shell that `npm ci` brings in @sparticuz/chromium (unpacked to the
 * temp folder on first use). WSRACE_TEST_BROWSER=system or =bundled takes only that one, to
 * test each path. No browser at all is an error, never a skip.
 */
export interface BrowserChoice {
  source: 'CHROMIUM_PATH' | 'system' | 'bundled';
  /** For playwright-core's chromium.launch(). */
  launch: { executablePath: string; args: string[]; env?: NodeJS.ProcessEnv };
}

/**
 * Keep the browser off the network (the test asserts the page loads nothing) and quiet. The same
 * for the bundled headless shell: @sparticuz/chromium's own args are made for AWS Lambda, and
 * here three of them hurt: --single-process (closing a page closes the browser), the in-process
 * SwiftShader GPU (frames, hence playwright's waits, stalled for seconds on a busy machine) and
 * --disable-web-security (the test checks the page under the browser's normal rules).
 */
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/**
 * Its headless shell takes its language from the environment, and under LANG=C.UTF-8 reports
 * navigator.language "en-US@posix", which Intl (hence uPlot) rejects.
 */
const BUNDLED_LOCALE = { LANG: 'en_US.UTF-8', LC_ALL: 'en_US.UTF-8' };
const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function systemChromium(env: NodeJS.ProcessEnv): string | null {
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  const candidates = ['/usr/bin/chromium', ...SYSTEM_NAMES.flatMap((name) => dirs.map((dir) => join(dir, name)))];
  return candidates.find(isExecutable) ?? null;
}

async function bundledChromium(env: NodeJS.ProcessEnv): Promise<BrowserChoice> {
  try {
    const { default: sparticuz } = await import('@sparticuz/chromium');
    const executablePath = await sparticuz.executablePath();
    return { source: 'bundled', launch: { executablePath, args: ARGS, env: { ...env, ...BUNDLED_LOCALE } } };
  } catch (err) {
    const hint = `set CHROMIUM_PATH, or install chromium, or run npm ci (the devDependency @sparticuz/chromium brings one)`;
    throw new Error(`no Chromium for the report.html test: @sparticuz/chromium gave none (${(err as Error).message}); ${hint}`, { cause: err });
  }
}

export async function findChromium(env: NodeJS.ProcessEnv = process.env): Promise<BrowserChoice> {
  if (env.CHROMIUM_PATH) {
    if (!isExecutable(env.CHROMIUM_PATH)) throw new Error(`CHROMIUM_PATH=${env.CHROMIUM_PATH} is not an executable file`);
    return { source: 'CHROMIUM_PATH', launch: { executablePath: env.CHROMIUM_PATH, args: ARGS } };
  }
  const only = env.WSRACE_TEST_BROWSER;
  if (only !== undefined && only !== 'system' && only !== 'bundled') throw new Error(`WSRACE_TEST_BROWSER=${only}: use system or bundled`);
  if (only !== 'bundled') {
    const system = systemChromium(env);
    if (system) return { source: 'system', launch: { executablePath: system, args: ARGS } };
    if (only === 'system') throw new Error(`WSRACE_TEST_BROWSER=system: none of /usr/bin/chromium or ${SYSTEM_NAMES.join(', ')} is on PATH`);
  }
  return bundledChromium(env);
}
