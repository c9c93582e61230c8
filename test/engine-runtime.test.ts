import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DeadlineQueue } from '../src/engine/deadlines.js';
import { warmUp } from '../src/engine/warmup.js';
import type { Attempt } from '../src/engine/connection.js';
import { startTestServer } from './helpers/servers.js';
import { runCli } from './helpers/cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const fake = (name: string) => ({ name }) as unknown as Attempt;

/**
 * A TCP server on 127.0.0.1 that accepts, reads (so a client's FIN is seen) and never writes a
 * byte: every upgrade sent to it hangs. `seen` lists where each connection came from, `held` the
 * sockets still open; closed with the test.
 */
async function silentServer() {
  const net = await import('node:net');
  const seen: { address: string; port: number }[] = [];
  const held = new Set<import('node:net').Socket>();
  const server = net.createServer((sock) => {
    seen.push({ address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 });
    held.add(sock);
    sock.resume();
    sock.on('close', () => held.delete(sock));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => { for (const sock of held) sock.destroy(); server.close(() => r()); }));
  return { url: `ws://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/`, seen, held };
}

/** A worker task for rehearse(), from a scenario's target section. */
async function rehearsalTask(target: string, sourcePorts: { low: number; high: number } | null = null) {
  const { MessageChannel } = await import('node:worker_threads');
  const { connectionSettings } = await import('../src/run/run.js');
  const { parseScenarioText } = await import('../src/scenario/load.js');
  const { scenario } = parseScenarioText(`name: r\ntarget:\n${target}load:\n  stages: [{ duration: 1s, rate: 10 }]\n`, 'r.yaml');
  const { port2 } = new MessageChannel();
  return { workerIndex: 0, workerCount: 1, stripe: { index: 0, count: 1 }, stages: [], capacity: 1000, drainTimeoutMs: 0, tickMs: 1000, connection: { ...connectionSettings(scenario), sourcePorts }, awaitSeal: false, population: null, warmup: 0, spinBudget: 0, nice: null, port: port2 };
}

describe('deadline queue', () => {
  it('fires due entries in order, skips cancelled ones, and keeps tickets valid across compaction', () => {
    const fired: string[] = [];
    const q = new DeadlineQueue((a) => fired.push((a as unknown as { name: string }).name));
    const tickets: number[] = [];
    for (let k = 0; k < 3000; k++) tickets.push(q.push(fake(`a${k}`), 1000 + k));
    q.cancel(tickets[1]);
    q.check(1002); // a0 and a2 (a1 was cancelled)
    expect(fired).toEqual(['a0', 'a2']);
    q.check(1000 + 2499); // compacts: the consumed prefix (2,500) is most of the 3,000
    expect(fired.length).toBe(2499);
    q.cancel(tickets[2600]); // a ticket from before the compaction still names its entry
    q.cancel(tickets[5]); // already fired: no effect
    q.check(5000);
    expect(fired.length).toBe(2998);
    expect(fired).not.toContain('a2600');
    expect(fired.at(-1)).toBe('a2999');
  });

  it('tells whether an entry due after a time still waits, whatever was cancelled or fired before it', () => {
    const q = new DeadlineQueue(() => {});
    const tickets = [100, 200, 300, 400].map((due) => q.push(fake(`d${due}`), due));
    expect(q.waitingAfter(350)).toBe(true); // d400
    q.cancel(tickets[3]);
    expect(q.waitingAfter(350)).toBe(false); // only d400 was after 350, and it is cancelled
    expect(q.waitingAfter(250)).toBe(true); // d300
    q.cancel(tickets[2]);
    q.cancel(tickets[1]);
    expect(q.waitingAfter(150)).toBe(false);
    expect(q.waitingAfter(50)).toBe(true); // d100, older than the cancelled ones
    q.check(100); // fires d100
    expect(q.waitingAfter(0)).toBe(false);
    expect(new DeadlineQueue(() => {}).waitingAfter(0)).toBe(false);
  });

  it('a later push with an earlier deadline waits behind the head (FIFO by construction)', () => {
    const fired: string[] = [];
    const q = new DeadlineQueue((a) => fired.push((a as unknown as { name: string }).name));
    q.push(fake('late'), 200);
    q.push(fake('early'), 100);
    q.check(150);
    expect(fired).toEqual([]);
    q.check(200);
    expect(fired).toEqual(['late', 'early']);
  });

  // That every queue starts with the element kinds it will hold guards speed: bench/guards.mjs.
});

describe('worker warm-up', () => {
  it('makes its connections on its own loopback server and leaves nothing listening', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    await warmUp(40);
    // libuv frees a closed handle on a later loop turn: wait for it, bounded.
    const servers = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    for (let turn = 0; turn < 100 && servers() > before; turn++) await new Promise((r) => setTimeout(r, 10));
    expect(servers()).toBe(before);
  });

  it('holds its server open for the rehearsal, within the warm-up budget, and closes it after', async () => {
    const { WARMUP_BUDGET_MS } = await import('../src/engine/warmup.js');
    const { now } = await import('../src/util/clock.js');
    const WebSocket = (await import('ws')).default;
    let seen: { url: string; deadline: number; leftMs: number; echoed: string } | null = null;
    const started = now();
    await warmUp(20, async (url, deadline) => {
      // What the worker's rehearsal does: its own connections to the same server.
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const echoed = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('rehearse'));
        ws.once('message', (m) => resolve(String(m)));
        ws.once('error', reject);
      });
      ws.close(1000);
      await new Promise((r) => ws.once('close', r));
      seen = { url, deadline, leftMs: deadline - now(), echoed };
    });
    expect(seen).not.toBeNull();
    const { url, deadline, leftMs, echoed } = seen!;
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
    expect(echoed).toBe('rehearse');
    // The rehearsal ran before its deadline, which is the warm-up's budget from warmUp's start.
    expect(leftMs).toBeGreaterThan(0);
    expect(deadline - started).toBeGreaterThanOrEqual(WARMUP_BUDGET_MS);
    expect(deadline - started).toBeLessThan(WARMUP_BUDGET_MS + 100);
    // After warmUp returns, the rehearsal's server is gone: a connection is refused.
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once('open', () => resolve('open'));
      ws.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('a rehearsal against a server that never answers ends by its deadline, its sockets closed', async () => {
    const { rehearse } = await import('../src/engine/rehearsal.js');
    const { now } = await import('../src/util/clock.js');
    const { url, held } = await silentServer();
    const task = await rehearsalTask(`  url: ${url}\n`);
    const started = now();
    const deadline = started + 600;
    await rehearse(task, url, 2500, deadline);
    const ended = now();
    expect(ended).toBeLessThanOrEqual(deadline + 50);
    expect(ended - started).toBeGreaterThanOrEqual(350); // it ran until stopped, not out at once
    // Every rehearsed socket was cut: the silent server sees them all close (bounded wait).
    for (let turn = 0; turn < 100 && held.size > 0; turn++) await new Promise((r) => setTimeout(r, 10));
    expect(held.size).toBe(0);
  });

  it('a rehearsal dials like the run: with source addresses, from 127.0.0.1 with ports from wsrace’s range; without, as the kernel picks', async () => {
    const { rehearse } = await import('../src/engine/rehearsal.js');
    const { now } = await import('../src/util/clock.js');
    const { url, seen } = await silentServer();
    // Above every window source-ports.test.ts may use (61000-65479), and the kernel's range.
    const range = { low: 65480, high: 65535 };
    const rehearseWith = async (addresses: string[]) => {
      const task = await rehearsalTask(`  url: ws://127.0.0.1:9/\n  localAddresses: ${JSON.stringify(addresses)}\n`, addresses.length > 0 ? range : null);
      seen.length = 0;
      await rehearse(task, url, 30, now() + 400);
      return [...seen];
    };
    const bound = await rehearseWith(['127.0.0.82']);
    expect(bound.length).toBeGreaterThan(0);
    // Never the run's own source address: the rehearsal's traffic is loopback's business.
    expect(bound.every((s) => s.address === '127.0.0.1' && s.port >= range.low && s.port <= range.high)).toBe(true);
    const kernel = await rehearseWith([]);
    expect(kernel.length).toBeGreaterThan(0);
    expect(kernel.every((s) => s.address === '127.0.0.1')).toBe(true);
    expect(kernel.some((s) => s.port < range.low || s.port > range.high)).toBe(true);
  });

  it('never touches the target: the server sees exactly the scheduled attempts', async () => {
    const server = await startTestServer(() => ({ kind: 'accept' }));
    onTestFinished(() => server.close());
    const { runScenario } = await import('../src/run/run.js');
    const { parseScenarioText } = await import('../src/scenario/load.js');
    const loaded = parseScenarioText(`name: w\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 500ms, rate: 60 }]\nsession:\n  hold: 0ms\n`, 'w.yaml');
    const { summary } = await runScenario(loaded, { outDir: mkdtempSync(join(tmpdir(), 'wsrace-warm-')), workers: 1, spinBudget: 0.5 });
    expect(summary.totals.attempted).toBe(30);
    expect(server.upgrades).toBe(30);
    expect(summary.schedule.spinBudget).toBe(0.5);
  });

  it('a worker with the whole spin budget runs at nice −10 where it may, and keeps its nice otherwise', async () => {
    const server = await startTestServer(() => ({ kind: 'accept' }));
    onTestFinished(() => server.close());
    const { runScenario } = await import('../src/run/run.js');
    const { parseScenarioText } = await import('../src/scenario/load.js');
    const { WORKER_NICE } = await import('../src/engine/priority.js');
    // May a thread of this process raise its own priority (root or CAP_SYS_NICE)? Asked of a thread of its own.
    const probe = new Worker(`const os = require('node:os'); let ok = true; try { os.setPriority(0, ${WORKER_NICE}); } catch { ok = false; } require('node:worker_threads').parentPort.postMessage(ok);`, { eval: true });
    const permitted = await new Promise<boolean>((resolve) => probe.once('message', resolve));
    await probe.terminate();
    const inherited = os.getPriority(0); // worker threads are born with their creator's nice
    const loaded = parseScenarioText(`name: n\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 200ms, rate: 20 }]\nsession:\n  hold: 0ms\n`, 'n.yaml');
    const full = await runScenario(loaded, { outDir: mkdtempSync(join(tmpdir(), 'wsrace-nice-')), workers: 1, spinBudget: 1 });
    const partial = await runScenario(loaded, { outDir: mkdtempSync(join(tmpdir(), 'wsrace-nice-')), workers: 1, spinBudget: 0.25 });
    expect(full.summary.workers.map((w) => w.nice)).toEqual([process.platform !== 'linux' ? null : permitted ? WORKER_NICE : inherited]);
    expect(partial.summary.workers.map((w) => w.nice)).toEqual([process.platform !== 'linux' ? null : inherited]);
    expect(full.summary.totals.attempted).toBe(4);
    expect(os.getPriority(0)).toBe(inherited); // the worker's thread only, never the caller's
  });

  /** The nice a fresh thread reports after lowering itself to `start` and asking applyNice for `wanted`. */
  async function niceOfThread(start: number, wanted: number, exact: boolean): Promise<unknown> {
    const w = new Worker(new URL('./helpers/priority-worker.mjs', import.meta.url), { workerData: { start, wanted, exact } });
    try {
      return await new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
    } finally {
      await w.terminate();
    }
  }

  it('a favour never lowers a thread that already runs at a higher priority; an asked nice is set either way (Linux; needs no privilege)', async () => {
    const inherited = os.getPriority(0);
    if (process.platform !== 'linux' || inherited > 14) return; // no room above it
    // The thread lowers itself to inherited + 3 (always allowed), then asks for inherited + 5.
    expect(await niceOfThread(inherited + 3, inherited + 5, false)).toBe(inherited + 3);
    expect(await niceOfThread(inherited + 3, inherited + 5, true)).toBe(inherited + 5);
    expect(os.getPriority(0)).toBe(inherited);
  });

  it('--nice: every worker runs at the nice asked, summary.json says it, and the spin budget keeps its default (Linux)', async () => {
    if (process.platform !== 'linux' || os.getPriority(0) > 15) return; // no room above it
    const server = await startTestServer(() => ({ kind: 'accept' }));
    onTestFinished(() => server.close());
    const { runScenario } = await import('../src/run/run.js');
    const { parseScenarioText } = await import('../src/scenario/load.js');
    const { defaultSpinBudget } = await import('../src/engine/wake.js');
    // A higher nice than the process's needs no privilege.
    const nice = os.getPriority(0) + 4;
    const loaded = parseScenarioText(`name: n\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 200ms, rate: 20 }]\nsession:\n  hold: 0ms\n`, 'n.yaml');
    const warnings: string[] = [];
    const { summary } = await runScenario(loaded, { outDir: mkdtempSync(join(tmpdir(), 'wsrace-nice-')), workers: 2, nice, onWarning: (m) => warnings.push(m) });
    expect(summary.workers.map((w) => w.nice)).toEqual([nice, nice]);
    expect(summary.schedule.nice).toBe(nice);
    expect(summary.schedule.spinBudget).toBe(defaultSpinBudget(2, os.availableParallelism()));
    expect(summary.totals.attempted).toBe(4);
    expect(warnings).toEqual([]);
  });

  it('--nice below what the kernel allows: the run goes on at the workers\' nice, without spinning on every core, and says so on stderr (Linux, setpriv)', async () => {
    const inherited = os.getPriority(0);
    if (process.platform !== 'linux' || inherited === -20) return; // nothing below it
    // Without CAP_SYS_NICE (root's dropped for the CLI with setpriv, which needs CAP_SETPCAP) and with RLIMIT_NICE at 0, a lower nice is refused.
    const wrap = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-sys_nice', '--inh-caps=-sys_nice'] : [];
    if (wrap.length > 0 && spawnSync(wrap[0], [...wrap.slice(1), 'true']).status !== 0) return;
    const server = await startTestServer(() => ({ kind: 'accept' }));
    onTestFinished(() => server.close());
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-nice-refused-'));
    const file = join(dir, 'n.yaml');
    writeFileSync(file, `name: n\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 200ms, rate: 20 }]\nsession:\n  hold: 0ms\n`);
    const asked = Math.max(-20, inherited - 5);
    // As many workers as cores: a nice below 0 asked for there means no spinning by default.
    const cores = os.availableParallelism();
    const r = await runCli(['run', file, '--quiet', '--workers', String(cores), `--nice=${asked}`, '--out', join(dir, 'run')], { shellPrefix: 'ulimit -e 0; ', wrap });
    expect(r.code).toBe(0);
    const spin = asked < 0 ? ', still without spinning (give --spin 0.25 for the default without the favour)' : '';
    expect(r.stderr).toContain(
      `wsrace: --nice ${asked}: ${cores} of ${cores} worker threads run at ${inherited} instead (a nice below the process's needs CAP_SYS_NICE, which root has outside a container, or a high enough RLIMIT_NICE); the run goes on${spin}\n`,
    );
    const summary = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8'));
    expect(summary.workers.map((w: { nice: number }) => w.nice)).toEqual(Array(cores).fill(inherited));
    expect([summary.schedule.nice, summary.schedule.spinBudget, summary.totals.attempted]).toEqual([asked, asked < 0 ? 0 : 0.25, 4]);
  });

  it('the nice the workers ask for, and what a user is told when they did not get it', async () => {
    const { nicePlan, niceShortfall, isNice, WORKER_NICE } = await import('../src/engine/priority.js');
    expect(nicePlan(undefined, 1, true)).toEqual({ nice: WORKER_NICE, exact: false });
    expect(nicePlan(undefined, 0.25, false)).toBeNull();
    expect(nicePlan(undefined, 1, false)).toBeNull(); // the whole budget on every core: no favour
    expect(nicePlan(5, 0, false)).toEqual({ nice: 5, exact: true });
    expect(nicePlan(-10, 1, true)).toEqual({ nice: -10, exact: true });
    expect([-20, 0, 19].map(isNice)).toEqual([true, true, true]);
    expect([-21, 20, 1.5, Number.NaN].map(isNice)).toEqual([false, false, false, false]);
    const refused = "instead (a nice below the process's needs CAP_SYS_NICE, which root has outside a container, or a high enough RLIMIT_NICE); the run goes on";
    expect(niceShortfall(null, [0], 1, 'linux')).toBeNull();
    expect(niceShortfall({ nice: WORKER_NICE, exact: false }, [0, 0], 1, 'linux')).toBeNull(); // a favour refused is in workers[].nice only
    expect(niceShortfall({ nice: -10, exact: true }, [-10, -10], 0, 'linux')).toBeNull();
    expect(niceShortfall({ nice: -10, exact: true }, [0, -10], 0.25, 'linux')).toBe(`--nice -10: 1 of 2 worker threads run at 0 ${refused}`);
    expect(niceShortfall({ nice: -10, exact: true }, [0, 0], 0, 'linux')).toBe(`--nice -10: 2 of 2 worker threads run at 0 ${refused}, still without spinning (give --spin 0.25 for the default without the favour)`);
    // A worker that failed before it was ready has no nice: it is left out, not counted as refused.
    expect(niceShortfall({ nice: -10, exact: true }, [-10, null], 0, 'linux')).toBeNull();
    expect(niceShortfall({ nice: -5, exact: true }, [0, null, 3], 0.25, 'linux')).toBe(`--nice -5: 2 of 2 worker threads run at 0, 3 ${refused}`);
    expect(niceShortfall({ nice: 5, exact: true }, [null], 1, 'darwin')).toBe("--nice 5: a thread's nice can be set on Linux only; the workers keep their priority");
    expect(niceShortfall(null, [null], 1, 'darwin')).toBeNull();
  });
});

describe('compiled CLI under node flags', () => {
  it('starts its workers when node is given flags worker threads may not take (--max-semi-space-size)', async () => {
    const server = await startTestServer(() => ({ kind: 'accept' }));
    onTestFinished(() => server.close());
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-flags-'));
    const file = join(dir, 's.yaml');
    writeFileSync(file, `name: flags\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 200ms, rate: 50 }]\nsession:\n  hold: 0ms\n`);
    const child = spawn(process.execPath, ['--max-semi-space-size=16', join(ROOT, 'bin/wsrace.js'), 'run', file, '--quiet', '--out', join(dir, 'out')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`wsrace did not finish in 30 s\n${stderr}`));
      }, 30_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(stderr).not.toContain('ERR_WORKER_INVALID_EXEC_ARGV');
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'out', 'summary.json'), 'utf8')).totals.closeCodes).toEqual({ '1000': 10 });
  });
});

describe('worker wake-up plan', () => {
  it('spins only through the last 1.5 ms, only within its budget, and rounds timers down to aim at or before the start', async () => {
    const { planWake, SPIN_WINDOW_MS } = await import('../src/engine/wake.js');
    expect(planWake(10, 0)).toEqual({ spin: false, timeoutMs: 8 }); // wakes by 8.5 ms, then spins
    expect(planWake(1.2, 0)).toEqual({ spin: true });
    expect(planWake(0, 0)).toEqual({ spin: true });
    expect(planWake(1.2, 99.9)).toEqual({ spin: true }); // the default budget is the whole window
    expect(planWake(1.2, SPIN_WINDOW_MS)).toEqual({ spin: false, timeoutMs: 1 });
    const quarter = 0.25 * SPIN_WINDOW_MS;
    expect(planWake(1.2, quarter - 0.1, 0.25)).toEqual({ spin: true });
    expect(planWake(1.2, quarter, 0.25)).toEqual({ spin: false, timeoutMs: 1 }); // budget spent: timer only
    expect(planWake(0.4, quarter, 0.25)).toEqual({ spin: false, timeoutMs: 0 }); // Node waits 1 ms: the price of the budget
    expect(planWake(10, quarter, 0.25)).toEqual({ spin: false, timeoutMs: 10 });
    expect(planWake(1.2, 0, 0)).toEqual({ spin: false, timeoutMs: 1 }); // --spin 0: never spins
    expect(planWake(-3, quarter, 0.25)).toEqual({ spin: true }); // already due: next turn, not a 1 ms timer
  });

  it('stays awake for handshakes in flight only with the whole window as budget, and sets no timer when nothing is due', async () => {
    const { planWake, SPIN_WINDOW_MS } = await import('../src/engine/wake.js');
    const yes = { awaitingHandshakes: () => true };
    const no = { awaitingHandshakes: () => false };
    expect(planWake(10, 0, 1, yes)).toEqual({ spin: true });
    expect(planWake(Infinity, 50, 1, yes)).toEqual({ spin: true }); // the schedule is over, its last handshakes are not
    expect(planWake(10, 0, 0.25, yes)).toEqual({ spin: false, timeoutMs: 8 }); // a partial budget is kept for starts
    expect(planWake(10, 0, 0.99, yes)).toEqual({ spin: false, timeoutMs: 8 });
    expect(planWake(10, SPIN_WINDOW_MS, 1, yes)).toEqual({ spin: false, timeoutMs: 10 }); // the window is spent
    expect(planWake(Infinity, 0, 1, no)).toEqual({ spin: false, timeoutMs: Infinity });
    expect(planWake(Infinity, 0, 0, yes)).toEqual({ spin: false, timeoutMs: Infinity });
    // The question (a scan of the handshake queue) is asked only when its answer decides.
    let asked = 0;
    const counted = { awaitingHandshakes: () => (asked++, true) };
    planWake(1.2, 0, 1, counted); // a start within SPIN_MS spins anyway
    planWake(10, 0, 0.25, counted); // a partial budget
    planWake(10, SPIN_WINDOW_MS, 1, counted); // the window spent
    planWake(-1, 0, 1, counted); // already due
    expect(asked).toBe(0);
    planWake(10, 0, 1, counted);
    expect(asked).toBe(1);
  });

  it('sizes a worker\'s young generation to its peak rate: small for short pauses, large from 3,000/s', async () => {
    const { youngGenerationMb } = await import('../src/engine/pool.js');
    expect(youngGenerationMb(50)).toBe(8);
    expect(youngGenerationMb(2999.9)).toBe(8);
    expect(youngGenerationMb(3000)).toBe(32);
    expect(youngGenerationMb(4000)).toBe(32);
  });

  it('spins the whole window by default only while a core is left over, and refuses a budget outside [0, 1]', async () => {
    const { defaultSpinBudget, checkSpinBudget } = await import('../src/engine/wake.js');
    expect(defaultSpinBudget(1, 2)).toBe(1); // the default CPUs − 1 workers
    expect(defaultSpinBudget(3, 4)).toBe(1);
    expect(defaultSpinBudget(2, 2)).toBe(0.25); // --workers 2, or --processes 2 of one worker each, on 2 cores
    expect(defaultSpinBudget(8, 4)).toBe(0.25);
    // Favoured workers (--nice below 0) on every core do not spin; with a core to spare they do.
    expect(defaultSpinBudget(2, 2, true)).toBe(0);
    expect(defaultSpinBudget(1, 2, true)).toBe(1);
    expect(checkSpinBudget(0)).toBe(0);
    expect(checkSpinBudget(0.5)).toBe(0.5);
    for (const bad of [Number.NaN, -0.1, 1.5]) expect(() => checkSpinBudget(bad)).toThrow(RangeError);
  });

  it('a library caller gets an InputError for a spin budget or worker count out of range, before any thread starts', async () => {
    const { runScenario } = await import('../src/run/run.js');
    const { parseScenarioText } = await import('../src/scenario/load.js');
    const { InputError } = await import('../src/scenario/errors.js');
    const loaded = parseScenarioText(`name: w\ntarget:\n  url: ws://127.0.0.1:9/\nload:\n  stages: [{ duration: 100ms, rate: 10 }]\n`, 'w.yaml');
    const outDir = mkdtempSync(join(tmpdir(), 'wsrace-spin-'));
    await expect(runScenario(loaded, { outDir, spinBudget: Number.NaN })).rejects.toThrow(InputError);
    await expect(runScenario(loaded, { outDir, spinBudget: 2 })).rejects.toThrow(/spin budget 2: expected a fraction from 0 to 1/);
    await expect(runScenario(loaded, { outDir, workers: 0 })).rejects.toThrow(/workers 0: expected a positive whole number/);
    await expect(runScenario(loaded, { outDir, nice: Number.NaN })).rejects.toThrow(InputError);
    await expect(runScenario(loaded, { outDir, nice: 20 })).rejects.toThrow(/^nice 20: expected a whole number from -20 to 19$/);
    const { runProcesses } = await import('../src/run/processes.js');
    await expect(runProcesses({ scenarioFile: 'w.yaml', processes: 2, outDir, nice: -21 })).rejects.toThrow(/^nice -21: expected a whole number from -20 to 19$/);
    // The engine itself refuses a nice out of range (RangeError), rather than a no-op.
    const { Engine } = await import('../src/engine/pool.js');
    expect(() => new Engine({ stages: [], workers: 1, capacity: 1, drainTimeoutMs: 0, connection: {} as never, nice: { nice: 1.5, exact: true } })).toThrow(RangeError);
  });
});
