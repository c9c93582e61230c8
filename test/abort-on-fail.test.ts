import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario, type RunOptions, type RunResult } from '../src/run/run.js';
import type { Aborted } from '../src/run/abort.js';
import type { Summary } from '../src/report/summary.js';
import { freePort, readEvents, WSRACE_FROM_SOURCE } from './helpers/coldstart.js';
import { runCli } from './helpers/cli.js';
import { slackFrom, watchLoop } from './helpers/slack.js';
import { startTestServer, type TestServer } from './helpers/servers.js';

const EXPR = 'totals.httpStatus.503 < 20';
const DELAY_MS = 1000;
const RATE = 20;
const SECONDS = 8;
/** The workers' report period (Engine's default tickMs): how stale the main thread's merged state may be. */
const TICK_MS = 1000;

/** A scenario that spawns the simulator's `broken` profile (HTTP 503 for good) and stops on the 20th 503. */
async function brokenScenario(): Promise<{ dir: string; file: string; text: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wsrace-abort-'));
  const text = `name: abort-broken
target:
  url: ws://127.0.0.1:${port}/ws
  start:
    command: '\${WSRACE} sim --profile broken --port ${port}'
load:
  stages:
    - { duration: ${SECONDS}s, rate: ${RATE} }
session:
  hold: 300ms
thresholds:
  - totals.opened == 0
  - { expr: "${EXPR}", abortOnFail: true, delay: ${DELAY_MS / 1000}s }
`;
  const file = join(dir, 'broken.yaml');
  writeFileSync(file, text);
  return { dir, file, text };
}

/** The files of an aborted run agree with each other and say why it stopped. */
function expectAbortedFiles(s: Summary, runDir: string): void {
  expect(s.partial).toBe(true);
  expect(s.abortedBy).toBe(EXPR);
  expect(s.interruptedBy).toBeNull();
  expect(s.verdict).toBe('fail');
  expect(s.totals.attempted).toBeLessThan(s.schedule.scheduled);
  expect(s.totals.httpStatus['503']).toBeGreaterThanOrEqual(20);
  const entry = s.thresholds.find((t) => t.expr === EXPR)!;
  expect(entry).toEqual({ expr: EXPR, ok: false, actual: s.totals.httpStatus['503'], abortOnFail: true });
  expect(s.thresholds.find((t) => t.expr === 'totals.opened == 0')).toEqual({ expr: 'totals.opened == 0', ok: true, actual: 0 });
  expect(readEvents(runDir)).toHaveLength(s.totals.attempted);
  expect(s.findings[0]).toBe(`the run was stopped early: threshold "${EXPR}" failed while it ran (abortOnFail); results are partial`);
  // Every file is written, and the CI and HTML reports say why the run is partial.
  const escaped = EXPR.replace('<', '&lt;');
  expect(readFileSync(join(runDir, 'junit.xml'), 'utf8')).toContain(`run stopped by abortOnFail threshold: ${escaped}`);
  expect(readFileSync(join(runDir, 'report.html'), 'utf8')).toContain(`<strong>Partial run</strong>: stopped by threshold ${escaped}.`);
}

/** A run against a test server that accepts every upgrade; `during` runs beside it (the server's events). */
async function runOnAcceptingServer(
  load: { rate: number; seconds: number; thresholds: string[] },
  options: Pick<RunOptions, 'abortSignal' | 'workers'>,
  during: (server: TestServer) => Promise<void> = async () => {},
): Promise<{ result: RunResult; aborted: Aborted[]; dir: string }> {
  const server = await startTestServer(() => ({ kind: 'accept' }));
  try {
    const text = `name: abort-accepting
target: { url: '${server.url}' }
load: { stages: [ { duration: ${load.seconds}s, rate: ${load.rate} } ] }
session: { hold: 50ms }
thresholds:
${load.thresholds.map((t) => `  - ${t}\n`).join('')}`;
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-abort-accepting-'));
    const aborted: Aborted[] = [];
    const run = runScenario(parseScenarioText(text, 'accepting.yaml', {}, {}), { outDir: dir, workers: 1, ...options, onAbort: (a) => aborted.push(a) });
    await during(server);
    return { result: await run, aborted, dir };
  } finally {
    await server.close();
  }
}

describe('abortOnFail: a threshold that fails while the run goes stops it', () => {
  it('against the broken simulator: stops within delay + one report period of the threshold failing, files consistent', { timeout: 60_000 }, async () => {
    const { dir, text } = await brokenScenario();
    const loaded = parseScenarioText(text, 'broken.yaml', {}, { ...process.env, WSRACE: WSRACE_FROM_SOURCE });
    const aborted: Aborted[] = [];
    const warnings: string[] = [];
    const loop = watchLoop();
    const result = await runScenario(loaded, { outDir: join(dir, 'run'), workers: 2, onAbort: (a) => aborted.push(a), onWarning: (m) => warnings.push(m) }).finally(() => loop.stop());
    const s = result.summary;
    expect(result.exitCode).toBe(1);
    expectAbortedFiles(s, join(dir, 'run'));
    expect(aborted).toHaveLength(1);
    const [a] = aborted;
    expect(a.expr).toBe(EXPR);
    expect(a.actual).toBeGreaterThanOrEqual(20);
    expect(warnings).toContain(`aborted: threshold \`${EXPR}\` failed at +${(a.atMs / 1000).toFixed(1)} s (actual ${a.actual})`);

    // When the threshold failed: the 20th 503 came back, but not before the delay (counted from the schedule's start: attempt 0's scheduled time).
    const events = readEvents(join(dir, 'run'));
    const scheduleStart = events.find((e) => e.i === 0)!.sched;
    const ends503 = events.filter((e) => e.status === 503).map((e) => e.end).sort((x, y) => x - y);
    const failedAt = Math.max(ends503[19], scheduleStart + DELAY_MS);
    // Seen no earlier than it happened; no later than the report that carries it (one tick) plus
    // how late a worker's tick and this thread's loop ran.
    const slack = slackFrom(s, { fromSchedule: false }) + loop.maxWaitMs();
    expect(a.atMs).toBeGreaterThanOrEqual(failedAt);
    expect(a.atMs).toBeLessThanOrEqual(failedAt + TICK_MS + slack);
    // The schedule stopped there: no attempt started after the stop reached the workers.
    const lastStart = Math.max(...events.map((e) => e.start ?? -Infinity));
    expect(lastStart).toBeLessThanOrEqual(a.atMs + slack);
    expect(s.durationMs).toBeLessThan(SECONDS * 1000);
    // The spawned simulator was stopped with the run, after the abort.
    expect(s.targetExit).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(s.targetExit!.atMs).toBeGreaterThan(a.atMs);
  });

  it('the CLI prints the line and exits 1 (not 130)', { timeout: 60_000 }, async () => {
    const { dir, file } = await brokenScenario();
    const out = join(dir, 'run');
    const cli = await runCli(['run', file, '--quiet', '--workers', '1', '--out', out], { env: { WSRACE: WSRACE_FROM_SOURCE } });
    expect(cli.code, cli.stderr).toBe(1);
    expect(cli.stderr).toMatch(new RegExp(`^wsrace: aborted: threshold \`${EXPR.replace('.', '\\.')}\` failed at \\+\\d+\\.\\d s \\(actual \\d+\\)$`, 'm'));
    expect(cli.stdout).toContain(`[PARTIAL: aborted by ${EXPR}]`);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    expectAbortedFiles(s, out);
  });

  it('--processes: the shard whose own share fails stops, and the parent stops the others; the merged run says so', { timeout: 90_000 }, async () => {
    const { dir, file } = await brokenScenario();
    const out = join(dir, 'run');
    const cli = await runCli(['run', file, '--quiet', '--processes', '2', '--out', out], { env: { WSRACE: WSRACE_FROM_SOURCE } });
    expect(cli.code, cli.stderr).toBe(1);
    // A shard's threshold failed on its own share of the 503s and it said so through the parent
    // (both may fail in the same second, before the parent's word reaches the other).
    const lines = cli.stderr.split('\n').filter((l) => /^\[shard \d\] wsrace: aborted: threshold/.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(2);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    expectAbortedFiles(s, out);
    // Both shards stopped early with the same reason, neither by a signal.
    const shards = [0, 1].map((k) => JSON.parse(readFileSync(join(out, `shard-${k}`, 'summary.json'), 'utf8')) as Summary);
    for (const shard of shards) {
      expect({ partial: shard.partial, abortedBy: shard.abortedBy, interruptedBy: shard.interruptedBy, verdict: shard.verdict }).toEqual({ partial: true, abortedBy: EXPR, interruptedBy: null, verdict: 'fail' });
      expect(shard.totals.attempted).toBeLessThan(shard.schedule.scheduled);
    }
    expect(shards.map((x) => x.totals.attempted).reduce((a, b) => a + b)).toBe(s.totals.attempted);
  });

  it('another shard\'s abort (abortSignal) stops this run the same way, without a line of its own', async () => {
    const sibling = new AbortController();
    const { result, aborted, dir } = await runOnAcceptingServer(
      { rate: 20, seconds: 5, thresholds: ['{ expr: "totals.closeCodes.1011 == 0", abortOnFail: true }'] },
      { abortSignal: sibling.signal },
      async (server) => {
        await server.waitFor('accept', 10, 10_000);
        sibling.abort('totals.closeCodes.1011 == 0');
      },
    );
    const s = result.summary;
    expect(aborted).toEqual([]);
    expect(result.exitCode).toBe(1);
    expect({ partial: s.partial, abortedBy: s.abortedBy, interruptedBy: s.interruptedBy, verdict: s.verdict }).toEqual({ partial: true, abortedBy: 'totals.closeCodes.1011 == 0', interruptedBy: null, verdict: 'fail' });
    // Its own numbers held: the entry keeps its actual, failed because the run was stopped by it.
    expect(s.thresholds).toEqual([{ expr: 'totals.closeCodes.1011 == 0', ok: false, actual: 0, abortOnFail: true }]);
    expect(s.totals.attempted).toBeLessThan(100);
    expect(readEvents(dir)).toHaveLength(s.totals.attempted);
  });

  it('a run whose abortOnFail threshold holds runs to the end unchanged', async () => {
    const { result, aborted, dir } = await runOnAcceptingServer({ rate: 30, seconds: 1, thresholds: ['{ expr: "totals.closeCodes.1011 == 0", abortOnFail: true }', '{ expr: "handshakeMs.p99 < 10s", abortOnFail: true, delay: 200ms }'] }, { workers: 2 });
    const s = result.summary;
    expect(aborted).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect({ partial: s.partial, abortedBy: s.abortedBy, interruptedBy: s.interruptedBy, verdict: s.verdict }).toEqual({ partial: false, abortedBy: null, interruptedBy: null, verdict: 'pass' });
    expect(s.totals.attempted).toBe(30);
    expect(s.totals.closeCodes['1000']).toBe(30);
    expect(s.thresholds).toEqual([
      { expr: 'totals.closeCodes.1011 == 0', ok: true, actual: 0, abortOnFail: true },
      { expr: 'handshakeMs.p99 < 10s', ok: true, actual: s.handshakeMs.p99, abortOnFail: true },
    ]);
    expect(readEvents(dir)).toHaveLength(30);
  });
});
