import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { startEchoServerProcess } from './helpers/echo-server-process.js';
import { startRawServer, acceptKey, switching } from './helpers/raw-server.js';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';
import { defaultSpinBudget } from '../src/engine/wake.js';
import { readHlog } from '../src/report/hlog.js';
import { startTestServer, type TestServer } from './helpers/servers.js';
import { runCli } from './helpers/cli.js';
import { readEvents } from './helpers/coldstart.js';
import { timeLeft } from './helpers/budget.js';
import { slackFrom } from './helpers/slack.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
  delete process.env.WSRACE_FAULT_WORKER_CRASH;
  delete process.env.WSRACE_FAULT_WORKER_STALL;
});
const tmp = () => mkdtempSync(join(tmpdir(), 'wsrace-res-'));

/** Resolves once `text` appears on the CLI's stderr (runCli's onStderr gives all of it so far). */
function stderrSays(text: string): { onStderr: (all: string) => void; seen: Promise<void> } {
  let resolve!: () => void;
  const seen = new Promise<void>((r) => (resolve = r));
  return { onStderr: (all) => all.includes(text) && resolve(), seen };
}

function checkPartialFiles(dir: string) {
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  const events = readFileSync(join(dir, 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(summary.partial).toBe(true);
  expect(events.length).toBe(summary.totals.attempted);
  const hs = readHlog(join(dir, 'latency.hlog')).filter((i) => i.tag === 'handshake').reduce((n, i) => n + i.histogram.totalCount, 0);
  expect(hs).toBe(summary.handshakeMs.count);
  expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toContain('name="run completed"');
  return summary;
}

describe('interruption', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal}: stops, closes sockets with 1001, writes partial files, exits ${code}`, async () => {
      server = await startTestServer(() => ({ kind: 'accept' }));
      const dir = tmp();
      const file = join(dir, 's.yaml');
      writeFileSync(file, `target:\n  url: ${server.url}\nload:\n  stages: [{ duration: 30s, rate: 40 }]\nsession:\n  hold: 60s\n`);
      const s = server;
      let pid = 0;
      const done = runCli(['run', file, '--quiet', '--out', join(dir, 'out')], { onSpawn: (p) => (pid = p) });
      await Promise.race([s.waitFor('accept', 20, timeLeft()), done]);
      process.kill(pid, signal);
      const r = await done;
      expect(r.code).toBe(code);
      const summary = checkPartialFiles(join(dir, 'out'));
      expect(summary.interruptedBy).toBe(signal);
      expect(summary.totals.errors.interrupted).toBe(summary.totals.attempted);
      expect(r.stdout).toContain('PARTIAL');
      // Every open socket was closed with 1001 "going away", not dropped. Only an attempt still in
      // its handshake when the signal came may be cut (the server may have sent its 101 already).
      await s.waitFor('client_close_1001', summary.totals.opened, timeLeft());
      expect(s.tally.client_close_1001).toBe(summary.totals.opened);
      expect(s.tally.client_close_1006 ?? 0).toBeLessThanOrEqual(summary.totals.attempted - summary.totals.opened);
    });
  }

  it('a second Ctrl-C exits at once, leaving whole lines in events.ndjson and the interval log', async () => {
    // The server never answers the client's close frame, so a graceful stop would take a while.
    let upgrades = 0;
    let hundred!: () => void;
    const hundredSockets = new Promise<void>((r) => (hundred = r));
    const raw = await startRawServer((head, socket) => {
      if (++upgrades === 100) hundred();
      socket.write(switching(acceptKey(head)));
    });
    onTestFinished(() => raw.close());
    const dir = tmp();
    const file = join(dir, 's.yaml');
    writeFileSync(file, `target:\n  url: ${raw.url}\nload:\n  stages: [{ duration: 30s, rate: 40 }]\nsession:\n  hold: 200ms\n  closeTimeout: 800ms\n`);
    let pid = 0;
    // The second Ctrl-C goes once the CLI said it took the first (it is stopping), not after a sleep.
    const stopping = stderrSays('(again to quit at once)');
    const done = runCli(['run', file, '--quiet', '--out', join(dir, 'out')], { onSpawn: (p) => (pid = p), onStderr: stopping.onStderr });
    await Promise.race([hundredSockets, done]);
    process.kill(pid, 'SIGINT');
    await Promise.race([stopping.seen, done]);
    process.kill(pid, 'SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('second interrupt');
    const lines = readFileSync(join(dir, 'out', 'events.ndjson'), 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect(readHlog(join(dir, 'out', 'latency.hlog')).length).toBeGreaterThan(0);
  });
});

describe('faults', () => {
  it('a worker that fell behind catches up in bursts with its sockets\' events between them, not all at once', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    // Its 20th attempt stalls the thread for 300 ms: about 300 attempts (at 1,000/s) come due at once.
    process.env.WSRACE_FAULT_WORKER_STALL = '0:20:300';
    const loaded = parseScenarioText(`name: stall\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 600ms, rate: 1000 }]\nsession:\n  hold: 0ms\n`, 'stall.yaml');
    const dir = tmp();
    const { summary } = await runScenario(loaded, { outDir: dir, workers: 1 });
    expect(summary.totals.closeCodes).toEqual({ '1000': 600 });
    expect(summary.scheduleLagMs.max).toBeGreaterThanOrEqual(250); // the stall is reported as lag
    // The backlog: attempts scheduled during the stall, all started after it.
    const backlog = readEvents(dir).filter((e) => e.i >= 20 && e.i < 300);
    const lastBacklogStart = Math.max(...backlog.map((e) => e.start!));
    // Started all at once, no socket event of the backlog could have run before its last start.
    // TCP connect: the kernel completes it and the worker stamps it, whatever the server's thread does.
    const connectedMeanwhile = backlog.filter((e) => e.tcp !== null && e.tcp < lastBacklogStart).length;
    expect(connectedMeanwhile).toBeGreaterThan(0);
  });

  it('a worker thread that dies: the others go on, its attempts are counted as lost, the run is degraded', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    process.env.WSRACE_FAULT_WORKER_CRASH = '1:10';
    const loaded = parseScenarioText(`name: crash\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 1s, rate: 100 }]\nsession:\n  hold: 50ms\n`, 'crash.yaml');
    const dir = tmp();
    const { summary } = await runScenario(loaded, { outDir: dir, workers: 2 });
    expect(summary.totals.attempted).toBe(100);
    // No --spin: the default for 2 workers here (0.25 on 2 cores, where they take every core).
    expect(summary.schedule.spinBudget).toBe(defaultSpinBudget(2, availableParallelism()));
    expect(summary.workers[1].error).toMatch(/injected crash in worker 1/);
    expect(summary.workers[0].error).toBeNull();
    expect(summary.partial).toBe(true);
    // Worker 0's 50 attempts all worked; worker 1 finished some before it died, the rest are lost.
    expect(summary.totals.closeCodes['1000'] + summary.totals.errors.lost).toBe(100);
    expect(summary.totals.errors.lost).toBeGreaterThanOrEqual(40);
    expect(summary.findings.join('\n')).toMatch(/worker thread 1 failed .*counted as lost/);
    const events = readFileSync(join(dir, 'events.ndjson'), 'utf8').trim().split('\n');
    expect(events.length).toBe(100);
    // The CLI says so with exit code 4.
    const file = join(dir, 's.yaml');
    writeFileSync(file, `target:\n  url: ${server.url}\nload:\n  stages: [{ duration: 1s, rate: 60 }]\nsession:\n  hold: 50ms\nworkers: 2\n`);
    const r = await runCli(['run', file, '--quiet', '--out', join(dir, 'cli')], { env: { WSRACE_FAULT_WORKER_CRASH: '0:5' } });
    expect(r.code).toBe(4);
  });

  it('a spawned target that exits mid-run is a timeline event, not a hang', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    const loaded = parseScenarioText(
      `name: exits\ntarget:\n  url: ${server.url}\n  start:\n    command: "echo starting; sleep 0.5; exit 3"\nload:\n  stages: [{ duration: 1500ms, rate: 20 }]\nsession:\n  hold: 20ms\n`,
      'exits.yaml',
    );
    const dir = tmp();
    const { summary } = await runScenario(loaded, { outDir: dir, workers: 1 });
    expect(summary.targetExit).toMatchObject({ code: 3, signal: null });
    expect(summary.targetExit!.atMs).toBeGreaterThan(400);
    expect(summary.findings).toContain(`target exited with code 3 at +${(Math.round(summary.targetExit!.atMs / 10) / 100).toFixed(2)} s`);
    expect(readFileSync(join(dir, 'target.log'), 'utf8')).toBe('starting\n');
    expect(readFileSync(join(dir, 'timeline.ndjson'), 'utf8')).toContain('"kind":"exit"');
  });

  it('running out of file descriptors shows as EMFILE counts and one clear warning', async () => {
    // The server lives in another process: only the generator runs out of descriptors.
    const echo = await startEchoServerProcess();
    onTestFinished(() => echo.close());
    const loaded = parseScenarioText(`name: emfile\ntarget:\n  url: ${echo.url}\nload:\n  stages: [{ duration: 6s, rate: 40 }]\nsession:\n  hold: 20ms\n`, 'emfile.yaml');
    const hogs: number[] = [];
    let grabber: NodeJS.Timeout | undefined;
    const grab = () => {
      try {
        for (;;) hogs.push(openSync('/dev/null', 'r'));
      } catch {
        /* EMFILE: full */
      }
    };
    const release = () => {
      clearInterval(grabber);
      hogs.splice(0).forEach((fd) => closeSync(fd));
    };
    onTestFinished(release); // a failing run must not leave the next tests without descriptors
    const { summary } = await runScenario(loaded, {
      outDir: tmp(),
      workers: 1,
      onProgress: (p) => {
        // After the first second take every descriptor left, and keep taking the ones closing
        // sockets give back (else the next attempt reuses them); give them back once attempts failed.
        if (!grabber && p.elapsedMs > 900) {
          grab();
          grabber = setInterval(grab, 2);
          setTimeout(release, 4000); // bounded, whatever happens
        } else if (grabber && (p.failures.error ?? 0) >= 10) release();
      },
    });
    release();
    expect(summary.totals.attempted).toBe(240);
    expect(summary.totals.errorCodes.EMFILE).toBeGreaterThanOrEqual(10);
    expect(summary.totals.closeCodes['1000'] + summary.totals.errorCodes.EMFILE).toBe(240);
    expect(summary.findings[0]).toMatch(/^\d+ attempts failed with EMFILE: wsrace ran out of file descriptors \(limit \d+\).*ulimit -n/);
  });

  it('the run is bounded: stages + handshake + hold + drainTimeout, then stragglers are cut and counted', async () => {
    // The server never answers the client's close frame: without the bound each socket would wait
    // closeTimeout (20 s) after its hold.
    const raw = await startRawServer((head, socket) => socket.write(switching(acceptKey(head))));
    onTestFinished(() => raw.close());
    const loaded = parseScenarioText(
      `name: drain\ntarget:\n  url: ${raw.url}\n  handshakeTimeout: 500ms\nload:\n  stages: [{ duration: 500ms, rate: 20 }]\nsession:\n  hold: 500ms\n  closeTimeout: 20s\ndrainTimeout: 300ms\n`,
      'drain.yaml',
    );
    const dir = tmp();
    const { summary } = await runScenario(loaded, { outDir: dir, workers: 1 });
    // Cut at 0.5 s of stages + 0.5 s handshake + 0.5 s hold + 0.3 s drain after T0 (a Node timer:
    // whole milliseconds, late by at most the worker loop's delay), then closed within the two
    // 1 s graces (close, then terminate), each a timer too.
    const cutAt = 500 + 500 + 500 + 300;
    const timerLate = slackFrom(summary, { events: 0, deadlines: 1, fromSchedule: false });
    for (const e of readEvents(dir)) {
      expect(e.end).toBeGreaterThanOrEqual(cutAt - 1);
      expect(e.end).toBeLessThanOrEqual(cutAt + 2 * 1000 + 3 * timerLate);
    }
    expect(summary.totals.attempted).toBe(10);
    expect(summary.totals.opened).toBe(10);
    expect(summary.totals.errors.interrupted).toBe(10);
    expect(summary.findings.join('\n')).not.toMatch(/all \d+ connections/);
  });
});

describe('secrets', () => {
  it('never reach report files or the console: headers, jwt subprotocols, secret-named variables anywhere, start.env, health URL tokens', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    const secret = 'sk-live-0123456789abcdef';
    const dir = tmp();
    const file = join(dir, 's.yaml');
    writeFileSync(
      file,
      `name: secret\ntarget:\n  url: ${server.url}?access_token=\${STAGING_TOKEN}\n  headers: { Authorization: "Bearer \${STAGING_TOKEN}", X-Custom: "\${STAGING_TOKEN}" }\n  subprotocols: [jwt-auth, "jwt.\${STAGING_TOKEN}"]\n` +
        `  start:\n    command: "sleep 3 # --token=\${STAGING_TOKEN}"\n    env: { API_KEY: "\${STAGING_TOKEN}" }\n` +
        `load:\n  stages: [{ duration: 300ms, rate: 20 }]\nsession:\n  hold: 10ms\ntimeline:\n  health: { url: "http://127.0.0.1:${server.port}/health?token=\${STAGING_TOKEN}", interval: 100ms }\n`,
    );
    const r = await runCli(['run', file, '--out', join(dir, 'out')], { env: { STAGING_TOKEN: secret } });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(secret);
    for (const f of ['summary.json', 'scenario.json', 'report.html', 'junit.xml', 'events.ndjson', 'timeline.ndjson', 'latency.hlog']) {
      expect(readFileSync(join(dir, 'out', f), 'utf8'), f).not.toContain(secret);
    }
    const scenario = readFileSync(join(dir, 'out', 'scenario.json'), 'utf8');
    expect(scenario).toContain('[redacted]');
    expect(scenario).toContain('"X-Custom": "[redacted]"');
  });
});
