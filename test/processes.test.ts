import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { startTestServer, type TestServer } from './helpers/servers.js';

const ENTRY = fileURLToPath(new URL('../bin/wsrace.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** `wsrace run --processes 2` in a process group of its own, as a shell runs a foreground job. */
function startProcessesRun(file: string, out: string) {
  const child = spawn(process.execPath, [ENTRY, 'run', file, '--quiet', '--processes', '2', '--out', out], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { pid: child.pid!, exited, stderr: () => stderr };
}

const eventLines = (file: string): string[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

/** Waits (bounded) until every shard has written finished attempts to its events.ndjson. */
async function shardsRunning(out: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (![0, 1].every((k) => eventLines(join(out, `shard-${k}`, 'events.ndjson')).length > 0)) {
    if (Date.now() > end) throw new Error('timed out waiting for both shards to finish an attempt');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function summaryOf(dir: string) {
  return JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
}

describe('--processes, interrupted', () => {
  const cases = [
    // A terminal's Ctrl-C reaches the whole foreground group: the parent and both shards.
    { name: 'Ctrl-C to the process group', signal: 'SIGINT', group: true, code: 130 },
    // A supervisor's SIGTERM to wsrace alone: the parent passes it on.
    { name: 'SIGTERM to the parent alone', signal: 'SIGTERM', group: false, code: 143 },
  ] as const;
  for (const c of cases) {
    it(`${c.name}: every shard stops gracefully once, writes its report, and the merge is partial (exit ${c.code})`, async () => {
      server = await startTestServer(() => ({ kind: 'accept' }));
      const dir = mkdtempSync(join(tmpdir(), 'wsrace-procs-'));
      const file = join(dir, 's.yaml');
      writeFileSync(file, `name: procs-int\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 60s, rate: 20 }]\nsession:\n  hold: 200ms\n`);
      const run = startProcessesRun(file, join(dir, 'out'));
      await shardsRunning(join(dir, 'out'), 45_000);
      process.kill(c.group ? -run.pid : run.pid, c.signal);
      const code = await run.exited;
      // Matched with stderr in front, so that a failure shows what wsrace said.
      expect(run.stderr() + `\nexit ${code}`).toMatch(new RegExp(`exit ${c.code}$`));
      expect(run.stderr()).not.toContain('second interrupt');
      const merged = summaryOf(join(dir, 'out'));
      expect(merged.partial).toBe(true);
      expect(merged.interruptedBy).toBe(c.signal);
      expect(merged.shards.map((s: { index: number }) => s.index)).toEqual([0, 1]);
      for (const k of [0, 1]) {
        const shard = summaryOf(join(dir, 'out', `shard-${k}`));
        expect(shard.interruptedBy).toBe(c.signal);
        expect(shard.totals.attempted).toBeGreaterThan(0);
        expect(eventLines(join(dir, 'out', `shard-${k}`, 'events.ndjson'))).toHaveLength(shard.totals.attempted);
      }
      expect(merged.totals.attempted).toBe(merged.shards.reduce((n: number, s: { attempted: number }) => n + s.attempted, 0));
    }, 90_000);
  }
});
