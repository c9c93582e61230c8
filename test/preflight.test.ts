import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planCapacity, FD_RESERVE } from '../src/run/preflight.js';
import { RunError } from '../src/run/errors.js';
import { runCli } from './helpers/cli.js';

describe('preflight', () => {
  const stages = [{ durationMs: 10_000, rate: 1000 }];
  it('caps sockets at the descriptor limit minus a reserve', () => {
    expect(planCapacity(stages, 7000, undefined, 20_000, 0)).toEqual({ capacity: 20_000 - FD_RESERVE, fdLimit: 20_000, estimatedPeak: 7000 });
    expect(planCapacity(stages, 7000, 15_000, 20_000, 0).capacity).toBe(15_000);
  });

  it('refuses a scenario that cannot fit, saying the limit and the fix', () => {
    expect(() => planCapacity(stages, 7000, 50_000, 20_000, 0)).toThrow(RunError);
    expect(() => planCapacity(stages, 7000, 50_000, 20_000, 0)).toThrow(/may open only 20000 files.*ulimit -n 50128/);
    // No explicit cap: the worst-case estimate (1000/s × 30 s) is what must fit.
    expect(() => planCapacity(stages, 30_000, undefined, 20_000, 0)).toThrow(/peak rate 1000\/s × 30\.0 s/);
  });

  it('exits 3 before any attempt when the limit is too low or the host does not resolve', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-pre-'));
    const file = join(dir, 's.yaml');
    writeFileSync(file, 'target:\n  url: ws://127.0.0.1:9/ws\nload:\n  stages: [{ duration: 1s, rate: 10 }]\n  maxConnections: 900000\n');
    const r = await runCli(['run', file, '--quiet', '--out', join(dir, 'a')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/load\.maxConnections.*may open only \d+ files.*ulimit -n/);
    expect(existsSync(join(dir, 'a'))).toBe(false);
    writeFileSync(file, 'target:\n  url: ws://no-such-host.invalid/ws\nload:\n  stages: [{ duration: 1s, rate: 10 }]\n');
    const u = await runCli(['run', file, '--quiet', '--out', join(dir, 'b')]);
    expect(u.code).toBe(3);
    expect(u.stderr).toMatch(/unreachable: cannot resolve host "no-such-host.invalid"/);
  });
});
