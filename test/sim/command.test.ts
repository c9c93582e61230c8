import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatSeconds, runSim, type SimHandle } from '../../src/sim/index.js';
import { openOrFail, withTimeout } from './helpers.js';
import { timeLeft } from '../helpers/budget.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

describe('wsrace sim (runSim)', () => {
  it('prints exactly the backend log lines on stdout and one line on stderr, and stops on the signal', async () => {
    const out = capture();
    const err = capture();
    const ac = new AbortController();
    let onStarted!: (s: SimHandle) => void;
    const started = new Promise<SimHandle>((resolve) => (onStarted = resolve));
    const done = runSim({ profile: 'gated', timeScale: 0.02, port: 0 }, { stdout: out.stream, stderr: err.stream, signal: ac.signal, onStarted });
    const sim = await withTimeout(started, 5000, 'the simulator to start');
    expect(err.text()).toBe(`wsrace sim: gated listening on ws://127.0.0.1:${sim.port}/ws (startup ~0.4 s)\n`);
    await sim.until('ready', 5000);
    const o = await openOrFail(sim.url);
    expect((await o.inbox.next()).type).toBe('connection_established');

    ac.abort();
    await withTimeout(done, 5000, 'runSim to finish');
    expect(sim.state().listening).toBe(false);

    const expected = sim.plan.phases.flatMap((p) => [`PHASE TRANSITION  ->  ${p.name}`, `PHASE COMPLETED: ${p.name} (${formatSeconds(p.durationMs)}s)`]);
    expected.push(`STARTUP COMPLETE: service ready (${formatSeconds(sim.plan.readyAtMs!)}s)`);
    expect(out.text()).toBe(`${expected.join('\n')}\n`);
    expect(out.text()).toContain('PHASE COMPLETED: dependencies (0.282s)');
    expect(out.text()).toContain('STARTUP COMPLETE: service ready (0.390s)');
    // What a log-line timeline source will match.
    const transitions = [...out.text().matchAll(/PHASE TRANSITION\s+->\s+(\w+)/g)].map((m) => m[1]);
    expect(transitions).toEqual(['init', 'dependencies', 'database', 'cache', 'services', 'websocket', 'finalize']);
  });

  it('reports a startup that will fail on stderr and rejects bad flags', async () => {
    const err = capture();
    const ac = new AbortController();
    ac.abort();
    await runSim({ profile: 'broken', timeScale: 0.02, port: 0 }, { stdout: new PassThrough(), stderr: err.stream, signal: ac.signal });
    expect(err.text()).toMatch(/^wsrace sim: broken listening on ws:\/\/127\.0\.0\.1:\d+\/ws \(startup fails at ~0\.1 s\)\n$/);
    await expect(runSim({ profile: 'nope' }, { signal: ac.signal })).rejects.toThrow(/--profile: expected one of racy/);
  });

  it('runs as a yargs command until SIGINT, then exits 0', async () => {
    const commandTs = fileURLToPath(new URL('../../src/sim/command.ts', import.meta.url));
    const code = `import yargs from 'yargs'; import { simCommand } from ${JSON.stringify(commandTs)}; await yargs(process.argv.slice(1)).command(simCommand).strict().parseAsync();`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, 'sim', '--profile', 'racy', '--time-scale', '0.02', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const complete = new Promise<void>((resolve) =>
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        if (stdout.includes('STARTUP COMPLETE')) resolve();
      }),
    );
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = once(child, 'exit');
    try {
      await withTimeout(complete, timeLeft(), 'STARTUP COMPLETE from the child');
      expect(stderr).toMatch(/^wsrace sim: racy listening on ws:\/\/127\.0\.0\.1:\d+\/ws \(startup ~0\.4 s\)\n$/);
      child.kill('SIGINT');
      const [exitCode] = await withTimeout(exited, timeLeft(), 'the child to exit');
      expect(exitCode).toBe(0);
      expect(stdout.split('\n')[0]).toBe('PHASE TRANSITION  ->  init');
      expect(stdout.trimEnd().split('\n').at(-1)).toBe('STARTUP COMPLETE: service ready (0.390s)');
    } finally {
      child.kill('SIGKILL');
    }
  }, 15_000);
});
