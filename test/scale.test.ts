import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';
import { mergeRuns } from '../src/run/merge.js';
import { START_AT_TOLERANCE_MS } from '../src/run/run.js';
import { waitForStartAt } from '../src/run/t0.js';
import { now } from '../src/util/clock.js';
import { mergeHlog } from '../src/report/hlog.js';
import { expandAddresses } from '../src/scenario/addresses.js';
import { startTestServer, type Action, type TestServer } from './helpers/servers.js';
import { runCli } from './helpers/cli.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});
const tmp = () => mkdtempSync(join(tmpdir(), 'wsrace-scale-'));

/** A deterministic server: what it does depends on the order upgrades arrive in. */
const byIndex = (n: number): Action => (n % 10 === 0 ? { kind: 'close', code: 1011, reason: 'Service not ready: bridge' } : n % 10 === 1 ? { kind: 'http', status: 503 } : { kind: 'accept' });

describe('shards', () => {
  it('a shard past the shared start by more than the tolerance says by how much, rounded up (never reads as within it)', async () => {
    const warnings: string[] = [];
    const late = await waitForStartAt(now() - START_AT_TOLERANCE_MS - 0.4, (w) => warnings.push(w));
    expect(late).toBeGreaterThan(START_AT_TOLERANCE_MS);
    expect(warnings).toEqual([`started ${late} ms after --start-at (tolerance ${START_AT_TOLERANCE_MS} ms): this shard's clock or start was late; its attempts are still scheduled from the shared T0`]);
    expect(await waitForStartAt(now() - 1, (w) => warnings.push(w))).toBeNull();
    expect(await waitForStartAt(now() + 5, (w) => warnings.push(w))).toBeNull();
    expect(warnings).toHaveLength(1);
    expect(await waitForStartAt(undefined)).toBeNull();
  });

  it('1 run vs 3 shards + merge: identical counts; merged histograms are the sum of the shards', async () => {
    server = await startTestServer(byIndex);
    const text = `name: shard\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 1s, rate: 90 }]\nsession:\n  hold: 20ms\nthresholds:\n  - "totals.closeCodes.1011 == 0"\n`;
    const single = await runScenario(parseScenarioText(text, 'shard.yaml'), { outDir: join(tmp(), 'single'), workers: 1 });
    const root = tmp();
    const startAt = Date.now() + 1500;
    const shards = await Promise.all([0, 1, 2].map((k) => runScenario(parseScenarioText(text, 'shard.yaml'), { outDir: join(root, `shard-${k}`), workers: 1, shard: { index: k, count: 3 }, startAt })));
    expect(shards.map((s) => s.summary.totals.attempted)).toEqual([30, 30, 30]);
    // One T0 for all three. A shard whose workers were not up by then (a busy machine) starts at
    // once, says by how much it was late, and still schedules from that T0.
    expect(shards.map((s) => s.summary.t0EpochMs)).toEqual([startAt, startAt, startAt]);
    expect(shards.map((s) => ({ ...s.summary.shard, lateByMs: null }))).toEqual([0, 1, 2].map((index) => ({ index, count: 3, lateByMs: null, leader: index === 0 })));
    for (const s of shards) if (s.summary.shard!.lateByMs !== null) expect(s.summary.shard!.lateByMs).toBeGreaterThan(START_AT_TOLERANCE_MS);
    const merged = await mergeRuns(shards.map((s) => s.outDir), join(root, 'merged'));
    // The server's behaviour depends on arrival order, so compare the totals as a whole:
    // the same 90 attempts, each in exactly one bucket, 1 in 10 closed 1011 and 1 in 10 rejected.
    expect(merged.totals.attempted).toBe(single.summary.totals.attempted);
    expect(merged.schedule.scheduled).toBe(90);
    expect(Object.values(merged.totals.closeCodes).reduce((a, b) => a + b, 0) + (merged.totals.httpStatus['503'] ?? 0)).toBe(90);
    expect(merged.totals.closeCodes['1011']).toBe(9);
    expect(merged.totals.httpStatus['503']).toBe(9);
    expect(merged.totals.closeCodes).toEqual(single.summary.totals.closeCodes);
    expect(merged.totals.httpStatus).toEqual(single.summary.totals.httpStatus);
    expect(merged.totals.errors).toEqual(single.summary.totals.errors);
    expect(merged.handshakeMs.count).toBe(shards.reduce((n, s) => n + s.summary.handshakeMs.count, 0));
    expect(mergeHlog(join(root, 'merged', 'latency.hlog'), 'handshake').totalCount).toBe(merged.handshakeMs.count);
    expect(merged.thresholds[0]).toMatchObject({ expr: 'totals.closeCodes.1011 == 0', ok: false, actual: 9 });
    expect(merged.shards!.map((s) => [s.index, s.attempted])).toEqual([[0, 30], [1, 30], [2, 30]]);
    const events = readFileSync(join(root, 'merged', 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events).toHaveLength(90);
    expect(new Set(events.map((e) => e.i)).size).toBe(90);
    for (let k = 1; k < events.length; k++) expect(events[k].sched).toBeGreaterThanOrEqual(events[k - 1].sched);
    // Only the shards of one run add up: never a folder twice, never a whole run among them.
    symlinkSync(shards[0].outDir, join(root, 'link'));
    await expect(mergeRuns([shards[0].outDir, join(root, 'link')], join(root, 'twice'))).rejects.toThrow(`merge: ${join(root, 'link')} is given twice`); // the same folder by another name
    await expect(mergeRuns([single.outDir], join(root, 'whole1'))).rejects.toThrow(`merge: ${single.outDir} is a whole run`);
    await expect(mergeRuns([single.outDir, shards[1].outDir], join(root, 'whole'))).rejects.toThrow(`merge: ${single.outDir} is a whole run, not a shard (its summary.json has no shard): merge takes the folders of one run started with --shard K/N`);
  });

  it('a named leader shard causes and watches the cold start; the merge takes its timeline', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    const text = `name: lead\ntarget:\n  url: ${server.url}\n  start:\n    command: "echo 'PHASE TRANSITION  ->  init'; sleep 0.3; echo 'STARTUP COMPLETE'; sleep 2"\nload:\n  stages: [{ duration: 1s, rate: 20 }]\nsession:\n  hold: 10ms\ntimeline:\n  log: { from: target }\n`;
    const root = tmp();
    const startAt = Date.now() + 1500;
    const runs = await Promise.all([0, 1].map((k) => runScenario(parseScenarioText(text, 'lead.yaml'), { outDir: join(root, `shard-${k}`), workers: 1, shard: { index: k, count: 2 }, startAt, leader: 1 })));
    expect(runs.map((r) => r.summary.shard!.leader)).toEqual([false, true]);
    expect(existsSync(join(root, 'shard-0', 'target.log'))).toBe(false);
    expect(readFileSync(join(root, 'shard-1', 'target.log'), 'utf8')).toContain('STARTUP COMPLETE');
    const merged = await mergeRuns(runs.map((r) => r.outDir), join(root, 'merged'));
    expect(merged.ready.source).toBe('log');
    expect(merged.timeline.map((x) => x.phase)).toEqual(['init', 'ready']);
    // Shard 0's attempts are attributed with shard 1's timeline too.
    expect(merged.totals.attempted).toBe(20);
    expect((merged.phases.ready?.attempted ?? 0) + (merged.phases.init?.attempted ?? 0) + (merged.phases.unknown?.attempted ?? 0)).toBe(20);
  });

  it('the onReady burst: run by the workers, counted in the schedule and in each worker\'s share', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    const text = `name: herd\ntarget:\n  url: ${server.url}\n  start:\n    command: "sleep 0.3; echo 'STARTUP COMPLETE'; sleep 2"\nload:\n  stages: [{ duration: 1s, rate: 20 }]\n  onReady: { burst: 21, over: 100ms }\nsession:\n  hold: 10ms\ntimeline:\n  log: { from: target }\n`;
    const run = await runScenario(parseScenarioText(text, 'herd.yaml'), { outDir: join(tmp(), 'herd'), workers: 2 });
    expect(run.summary.schedule).toMatchObject({ scheduled: 41, onReadyBurst: 21 });
    expect(run.summary.totals.attempted).toBe(41);
    expect(run.summary.totals.closeCodes).toEqual({ '1000': 41 });
    // Burst attempt j goes to worker j mod 2: 11 and 10, on top of the stages' 10 each.
    expect(run.summary.workers.map((w) => w.scheduled)).toEqual([21, 20]);
  });

  it("retries of two shards keep indices of their own in the merged files (each shard's worker is its worker 0)", async () => {
    // Each shard's first 10 upgrades are closed 1011 (its first attempts), counted by shard: a
    // shard that starts late on a busy machine must not find the other's retries took its 1011s.
    const closed = [0, 0];
    let shard = 0;
    const target = await startTestServer(() => (closed[shard]++ < 10 ? { kind: 'close', code: 1011, reason: 'Service not ready: bridge' } : { kind: 'accept' }), { onUpgrade: (req) => (shard = req.url?.endsWith('shard=1') ? 1 : 0) });
    server = target;
    const text = (k: number) => `name: shard-retries\ntarget:\n  url: ${target.url}?shard=${k}\n  trigger: { command: "true", at: 50ms }\nload:\n  stages: [{ duration: 100ms, rate: 200 }]\nsession:\n  hold: 20ms\n  reconnect: { on: [1011], max: 3, backoff: { initial: 500ms, jitter: 0% } }\n`;
    const root = tmp();
    const startAt = Date.now() + 1500;
    const shards = await Promise.all([0, 1].map((k) => runScenario(parseScenarioText(text(k), 'shard.yaml'), { outDir: join(root, `shard-${k}`), workers: 1, shard: { index: k, count: 2 }, startAt })));
    const merged = await mergeRuns(shards.map((s) => s.outDir), join(root, 'merged'));
    // The leader launched a deploy, but nothing watched a startup: the merge says so, as one process would.
    expect(shards[0].summary.findings).toContain('no startup timeline was watched (configure timeline.health or timeline.log to pin failures to phases)');
    expect(merged.findings).toContain('no startup timeline was watched (configure timeline.health or timeline.log to pin failures to phases)');
    const events = readFileSync(join(root, 'merged', 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { i: number; try?: number; shard: number });
    // 20 first attempts closed 1011, retried (once each, unless a shard so slow that its own retry
    // came before its last first attempt met the server still closing): both shards retried, and
    // no two attempts share an index.
    expect(events.filter((e) => (e.try ?? 0) === 0)).toHaveLength(20);
    expect(new Set(events.filter((e) => (e.try ?? 0) > 0).map((e) => e.shard))).toEqual(new Set([0, 1]));
    expect(new Set(events.map((e) => e.i)).size).toBe(events.length);
  });

  it('merge of a missing shard says so', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    const text = `name: miss\ntarget:\n  url: ${server.url}\nload:\n  stages: [{ duration: 500ms, rate: 40 }]\nsession:\n  hold: 10ms\n`;
    const root = tmp();
    const one = await runScenario(parseScenarioText(text, 'miss.yaml'), { outDir: join(root, 'shard-0'), workers: 1, shard: { index: 0, count: 2 } });
    const merged = await mergeRuns([one.outDir], join(root, 'merged'));
    expect(merged.partial).toBe(true);
    expect(merged.findings[0]).toBe('merged 1 of 2 shards: the result is missing 1 shard(s)');
  });
});

describe('beyond one process and one source address', () => {
  it('source addresses rotate: the server sees each configured address', async () => {
    const seen = new Set<string>();
    server = await startTestServer(() => ({ kind: 'accept' }), { onUpgrade: (req) => seen.add(req.socket.remoteAddress ?? '') });
    const text = `name: src\ntarget:\n  url: ${server.url}\n  localAddresses: ["127.0.0.2-127.0.0.4", "127.0.0.9"]\nload:\n  stages: [{ duration: 500ms, rate: 40 }]\nsession:\n  hold: 10ms\n`;
    const { summary } = await runScenario(parseScenarioText(text, 'src.yaml'), { outDir: tmp(), workers: 1 });
    expect(summary.totals.closeCodes['1000']).toBe(20);
    expect([...seen].sort()).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.9']);
    expect(expandAddresses(['127.0.1.0/30', '10.0.0.1,::1'])).toEqual(['127.0.1.0', '127.0.1.1', '127.0.1.2', '127.0.1.3', '10.0.0.1', '::1']);
    expect(() => expandAddresses(['127.0.0.9-127.0.0.2'])).toThrow(/from low to high/);
    expect(() => expandAddresses(['not-an-ip'])).toThrow(/expected an IP address, a range/);
  });

  // Three CLI runs, each a fresh process tree: longer than the default 30 s on a busy machine.
  it('--processes 2 holds more sockets than one process may (hard limit lowered to 800)', { timeout: 90_000 }, async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    const dir = tmp();
    const file = join(dir, 's.yaml');
    // Up to 900 sockets at once (300/s × 3 s of handshake + hold): more than one process may
    // open with 800 descriptors, so one process refuses to start; two processes (450 each) run it.
    // The 2 s handshake allowance keeps an oversubscribed machine's slow upgrades from timing out.
    writeFileSync(file, `name: procs\ntarget:\n  url: ${server.url}\n  handshakeTimeout: 2s\nload:\n  stages: [{ duration: 2s, rate: 300 }]\nsession:\n  hold: 1s\n`);
    const one = await runCli(['run', file, '--quiet', '--out', join(dir, 'one')], { shellPrefix: 'ulimit -Sn 800 && ulimit -Hn 800; ' });
    expect(one.code).toBe(3);
    expect(one.stderr).toMatch(/may hold up to 900 sockets at once.*may open only 800 files/);
    // When no shard process can run, the shards' own reason and exit code come through.
    const none = await runCli(['run', file, '--quiet', '--processes', '2', '--out', join(dir, 'none')], { shellPrefix: 'ulimit -Sn 300 && ulimit -Hn 300; ' });
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/no shard process could run \(exit codes 3, 3\); shard 0 said:\n.*may hold up to 450 sockets at once.*may open only 300 files/);
    // A higher nice than this process's needs no privilege (Linux only: elsewhere workers[].nice is null).
    const nice = Math.min(19, os.getPriority(0) + 2);
    const two = await runCli(['run', file, '--quiet', '--processes', '2', '--spin', '0.3', `--nice=${nice}`, '--out', join(dir, 'two')], { shellPrefix: 'ulimit -Sn 800 && ulimit -Hn 800; ' });
    expect(two.code).toBe(0);
    const merged = JSON.parse(readFileSync(join(dir, 'two', 'summary.json'), 'utf8'));
    expect(merged.totals.attempted).toBe(600);
    expect(merged.totals.closeCodes['1000']).toBe(600);
    expect(merged.totals.dropped).toBe(0);
    expect(merged.shards.map((s: { attempted: number }) => s.attempted)).toEqual([300, 300]);
    // Each shard process really held more than a third of the run's sockets at once, under 800 descriptors.
    // … and ran with the --spin and --nice it was given (passed on to every shard, kept in the merge).
    for (const k of [0, 1]) {
      const shard = JSON.parse(readFileSync(join(dir, 'two', `shard-${k}`, 'summary.json'), 'utf8'));
      expect(shard.limits.openFiles).toBe(800);
      expect(shard.schedule.spinBudget).toBe(0.3);
      expect(shard.schedule.nice).toBe(nice);
    }
    expect(merged.schedule.spinBudget).toBe(0.3);
    expect(merged.schedule.nice).toBe(nice);
    if (process.platform === 'linux') expect(merged.workers.map((w: { nice: number }) => w.nice)).toEqual([nice, nice]);
    expect(server.upgrades).toBeGreaterThanOrEqual(600);
  });
});

describe('deploy/kubernetes', () => {
  const load = (f: string) => parse(readFileSync(join('deploy/kubernetes', f), 'utf8'));
  it('an Indexed Job whose completion index is the shard, sharing T0, writing to a volume', () => {
    const job = load('job.yaml');
    expect(job.kind).toBe('Job');
    expect(job.spec.completionMode).toBe('Indexed');
    expect(job.spec.parallelism).toBe(job.spec.completions);
    const c = job.spec.template.spec.containers[0];
    const env = Object.fromEntries(c.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(Number(env.SHARDS)).toBe(job.spec.completions);
    const cmd = c.args.join(' ');
    expect(cmd).toContain('--shard "${JOB_COMPLETION_INDEX}/${SHARDS}"');
    expect(cmd).toContain('--start-at "${START_AT}"');
    expect(cmd).toMatch(/--out "\/results\/\$\{RUN_ID\}\/shard-\$\{JOB_COMPLETION_INDEX\}"/);
    expect(c.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toEqual(['/scenario', '/results']);
    expect(job.spec.template.spec.volumes[0].configMap.name).toBe(load('configmap.yaml').metadata.name);
  });
  it('the scenario in the ConfigMap is valid, the merge and nightly steps use real commands', async () => {
    const scenario = load('configmap.yaml').data['scenario.yaml'];
    expect(() => parseScenarioText(scenario, 'configmap.yaml', {}, { STAGING_WS_URL: 'wss://staging.example.com/ws', STAGING_TOKEN: 't', STAGING_HOST: 'staging.example.com', STAGING_HEALTH_URL: 'https://staging.example.com/health' })).not.toThrow();
    expect(load('merge-job.yaml').spec.template.spec.containers[0].args.join(' ')).toContain('wsrace merge /results/${RUN_ID}/shard-* --out /results/${RUN_ID}/merged');
    const cron = load('cronjob.yaml');
    expect(cron.kind).toBe('CronJob');
    const nightly = cron.spec.jobTemplate.spec.template.spec.containers[0].args.join(' ');
    const help = (await runCli(['run', '--help'])).stdout;
    for (const flag of nightly.match(/--[a-z-]+/g)) expect(help).toContain(flag);
    expect((await runCli(['merge', '--help'])).stdout).toContain('--out');
  });
});
