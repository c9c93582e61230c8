import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RECORDER_NODE_FLAGS, recorderNodeFlags } from '../src/run/node-flags.js';
import { shardEntry } from '../src/run/processes.js';

const LAUNCHER = fileURLToPath(new URL('../bin/wsrace.js', import.meta.url));
const run = promisify(execFile);

/** A preload that prints the flags node was started with and exits before the CLI runs. */
function flagsPrinter(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'wsrace-flags-')), 'print-flags.cjs');
  writeFileSync(file, 'process.stdout.write(JSON.stringify(process.execArgv)); process.exit(0);\n');
  return file;
}

/** What node `bin/wsrace.js` ran as a program (its shebang, as `wsrace` runs) was started with. */
async function launcherFlags(nodeOptions: string): Promise<string[]> {
  const { stdout } = await run(LAUNCHER, ['--version'], { env: { ...process.env, NODE_OPTIONS: `--require ${flagsPrinter()} ${nodeOptions}` } });
  return JSON.parse(stdout) as string[];
}

describe('a recording process’s node flags', () => {
  it('are the semi-space cap, unless NODE_OPTIONS sizes the semi-space', () => {
    expect(RECORDER_NODE_FLAGS).toEqual(['--max-semi-space-size=2']);
    expect(recorderNodeFlags('')).toEqual(['--max-semi-space-size=2']);
    expect(recorderNodeFlags('--max-old-space-size=4096')).toEqual(['--max-semi-space-size=2']);
    expect(recorderNodeFlags('--max-semi-space-size=16')).toEqual([]);
    expect(recorderNodeFlags('--trace-gc --max_semi_space_size=16')).toEqual([]);
  });

  it('start every shard process', () => {
    expect(shardEntry().execArgv.slice(0, RECORDER_NODE_FLAGS.length)).toEqual(RECORDER_NODE_FLAGS);
  });

  it('start the CLI run as a program, and NODE_OPTIONS’ own semi-space wins', async () => {
    expect(await launcherFlags('')).toEqual(RECORDER_NODE_FLAGS);
    expect(await launcherFlags('--max-semi-space-size=8')).toEqual([]);
    expect(await launcherFlags('--max_semi_space_size=8')).toEqual([]);
  });

  it('leave `node bin/wsrace.js` as it was started', async () => {
    const { stdout } = await run(process.execPath, ['--require', flagsPrinter(), LAUNCHER, '--version']);
    expect(JSON.parse(stdout)).toEqual(['--require', expect.stringMatching(/print-flags\.cjs$/)]);
    const version = await run(process.execPath, [LAUNCHER, '--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
