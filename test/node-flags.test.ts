import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { RECORDER_NODE_FLAGS, recorderNodeFlags, uncapWorkerThreads } from '../src/run/node-flags.js';
import { shardEntry } from '../src/run/processes.js';
import { runScenario } from '../src/run/run.js';
import { parseScenarioText } from '../src/scenario/load.js';
import { startTestServer } from './helpers/servers.js';

const LAUNCHER = fileURLToPath(new URL('../bin/wsrace.js', import.meta.url));
/** The compiled module (test/global-setup.ts builds dist/), for a child process of its own. */
const NODE_FLAGS_JS = fileURLToPath(new URL('../dist/run/node-flags.js', import.meta.url));
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
  it('are the semi-space cap, unless NODE_OPTIONS or node’s command line sizes the semi-space', () => {
    expect(RECORDER_NODE_FLAGS).toEqual(['--max-semi-space-size=2']);
    expect(recorderNodeFlags('', [])).toEqual(['--max-semi-space-size=2']);
    expect(recorderNodeFlags('--max-old-space-size=4096', ['--trace-gc'])).toEqual(['--max-semi-space-size=2']);
    expect(recorderNodeFlags('--max-semi-space-size=16', [])).toEqual([]);
    expect(recorderNodeFlags('--trace-gc --max_semi_space_size=16', [])).toEqual([]);
    expect(recorderNodeFlags('', ['--trace-gc', '--max_semi_space_size=16'])).toEqual(['--max_semi_space_size=16']);
    expect(recorderNodeFlags('--max-semi-space-sizes-are-not-a-flag', [])).toEqual(['--max-semi-space-size=2']);
  });

  it('start every shard process, compiled or from the source', async () => {
    const compiled = (await import(pathToFileURL(fileURLToPath(new URL('../dist/run/processes.js', import.meta.url))).href)) as { shardEntry: typeof shardEntry };
    expect(compiled.shardEntry()).toEqual({ filename: expect.stringMatching(/dist\/run\/shard-process\.js$/), execArgv: recorderNodeFlags() });
    expect(shardEntry().execArgv).toEqual([...recorderNodeFlags(), '--import', 'tsx']);
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

  it('cap the main thread only: worker threads get the young generation they are given', async () => {
    // Each isolate allocates until its young generation has grown as far as it may (a fixed count
    // of objects, some kept so that scavenges have survivors), then says how big it got, in MiB.
    const grow = `const keep = []; for (let i = 0; i < 5e6; i++) { const o = { i, s: 'x' + i }; if (i % 50 === 0) keep[(i / 50) % 20000] = o; }
      const newSpaceMiB = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20;`;
    const worker = `${grow} require('node:worker_threads').parentPort.postMessage(newSpaceMiB);`;
    const child = `import(${JSON.stringify(NODE_FLAGS_JS)}).then(({ uncapWorkerThreads }) => {
      const uncapped = process.argv[1] === 'uncap' ? uncapWorkerThreads() : false;
      ${grow}
      const w = new (require('node:worker_threads').Worker)(${JSON.stringify(worker)}, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: Number(process.argv[2]) } });
      w.once('message', (m) => { process.stdout.write(JSON.stringify({ uncapped, main: newSpaceMiB, worker: m })); process.exit(0); });
    });`;
    /** Node started as `wsrace` starts it, or with the flags in NODE_OPTIONS; a worker given `youngMb` (engine/pool.ts gives 8 or 32). */
    const sizes = async (arg: 'uncap' | 'keep', youngMb: number, via: 'argv' | 'NODE_OPTIONS' = 'argv') => {
      const [flags, env] = via === 'argv' ? [RECORDER_NODE_FLAGS, process.env] : [[], { ...process.env, NODE_OPTIONS: RECORDER_NODE_FLAGS.join(' ') }];
      return JSON.parse((await run(process.execPath, [...flags, '-e', child, arg, String(youngMb)], { env })).stdout) as unknown;
    };
    expect(await sizes('uncap', 8)).toEqual({ uncapped: true, main: 4, worker: 8 });
    expect(await sizes('uncap', 32)).toEqual({ uncapped: true, main: 4, worker: 32 });
    expect(await sizes('uncap', 8, 'NODE_OPTIONS')).toEqual({ uncapped: true, main: 4, worker: 8 });
    // Why it is needed: V8's flag overrides the worker's resourceLimits.
    expect(await sizes('keep', 32)).toEqual({ uncapped: false, main: 4, worker: 4 });
  });

  it('leave a semi-space the user gave node alone', () => {
    expect(uncapWorkerThreads([], '')).toBe(false);
    expect(uncapWorkerThreads(['--max-semi-space-size=16'], '')).toBe(false);
    expect(uncapWorkerThreads(['--max_semi_space_size=2'], '')).toBe(false);
    expect(uncapWorkerThreads([], '--trace-gc --max-semi-space-size=16')).toBe(false);
  });

  it('are set back as runScenario starts, only when node was started with them', async () => {
    const server = await startTestServer(() => ({ kind: 'accept' }));
    onTestFinished(() => server.close());
    const setFlags = vi.spyOn(v8, 'setFlagsFromString');
    onTestFinished(() => setFlags.mockRestore());
    const run = async (execArgv: string[]) => {
      const saved = process.execArgv;
      process.execArgv = execArgv;
      try {
        const loaded = parseScenarioText(`name: flags\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 100ms, rate: 20 }]\n`, 'flags.yaml');
        return (await runScenario(loaded, { outDir: mkdtempSync(join(tmpdir(), 'wsrace-flags-run-')), workers: 1 })).summary.totals.opened;
      } finally {
        process.execArgv = saved;
      }
    };
    expect(await run([])).toBe(2);
    expect(setFlags).not.toHaveBeenCalled();
    expect(await run([...RECORDER_NODE_FLAGS])).toBe(2);
    expect(setFlags.mock.calls).toEqual([['--max-semi-space-size=0']]);
  });
});
