// A peer on the same schedule: Tsung (Debian's `tsung`, Erlang), its websocket session type
// (connect to the bench's echo server, then close) on an arrival-rate phase. Tsung spaces its
// arrivals at random (Poisson) and has no per-socket log, so it is judged from its own logs, per
// second (dumpstats_interval 1 s, set through ERL_FLAGS as it is an application variable):
// users started in each whole second of the phase against the asked rate, outcomes from its
// counters, and the overload it reports itself in its controller log ("users were not launched
// in time ... tsung may be overloaded"). Each run gets a temp dir with its config and log dir.
// Nothing here installs Tsung: without /usr/bin/tsung (or BENCH_TSUNG) it is skipped.
// What is set, and why (docs/performance.md, "Peers"): one VM (use_controller_vm: Tsung would
// start further VMs over ssh), maxusers under the descriptor limit (the default 800 would cap
// held sockets), the source address given as <ip> (a fresh one per run, as every bench run
// has), no web GUI (-n), no warm-up delay (-w 0: with the default 1 s the launcher starts up to
// 1 s into a phase whose clock has started, and reports a short phase as overloaded).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';

/** @returns {string | null} the tsung command, or null when it is not installed */
export function tsungCommand() {
  const cmd = process.env.BENCH_TSUNG ?? '/usr/bin/tsung';
  return existsSync(cmd) ? cmd : null;
}

/** Held sockets per VM: under the process's descriptor limit, with room for the VM's own. */
const maxUsers = () => {
  let limit = 20_000;
  try {
    const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) limit = Number(m[1]);
  } catch {
    // keep the guess
  }
  return Math.max(1000, limit - 1000);
};

/**
 * The config: phases of [seconds, users per second], a session that connects, holds `thinkS`
 * seconds (0: none) and closes.
 * @param {URL} url
 * @param {[number, number, number?][]} phases seconds, users per second, and at most this many users
 * @param {string[]} sources
 * @param {number} thinkS
 */
function config(url, phases, sources, thinkS) {
  const ips = sources.map((s) => `<ip value="${s}"/>`).join('');
  const load = phases.map(([d, r, max], i) => `<arrivalphase phase="${i + 1}" duration="${d}" unit="second"><users arrivalrate="${r}"${max ? ` maxnumber="${max}"` : ''} unit="second"/></arrivalphase>`).join('\n    ');
  const think = thinkS > 0 ? `<thinktime value="${thinkS}" random="false"/>` : '';
  return `<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" version="1.0">
  <clients><client host="${os.hostname().split('.')[0]}" use_controller_vm="true" maxusers="${maxUsers()}">${ips}</client></clients>
  <servers><server host="${url.hostname}" port="${url.port}" type="tcp"/></servers>
  <load>
    ${load}
  </load>
  <sessions>
    <session name="ws" probability="100" type="ts_websocket">
      <request><websocket type="connect" path="${url.pathname}"/></request>
      ${think}
      <request><websocket type="close"/></request>
    </session>
  </sessions>
</tsung>
`;
}

/**
 * One dump of tsung.log: `stats: NAME A B`, the interval's count and the total (for `users`
 * and `connected`, the change and the current value).
 * @typedef {{ at: number, values: Map<string, [number, number]> }} Dump
 */
/** @param {string} text @returns {Dump[]} */
export function parseTsungLog(text) {
  /** @type {Dump[]} */
  const dumps = [];
  for (const line of text.split('\n')) {
    const head = /^# stats: dump at (\d+)/.exec(line);
    if (head) dumps.push({ at: Number(head[1]), values: new Map() });
    const stat = /^stats: (\S+) (-?[\d.]+) (-?[\d.]+)/.exec(line);
    if (stat && dumps.length) dumps[dumps.length - 1].values.set(stat[1], [Number(stat[2]), Number(stat[3])]);
  }
  return dumps;
}

/**
 * Starts tsung on `xml` in a temp dir; resolves when it exits (or is stopped at `limitS`).
 * `onTick` is called every 250 ms with the run's pid and its log dir (once it exists).
 * @param {string} xml
 * @param {number} limitS
 * @param {(pid: number, logDir: string | null) => boolean | void} [onTick] returns true to stop the run
 */
async function runTsung(xml, limitS, onTick) {
  const cmd = tsungCommand();
  if (!cmd) throw new Error('tsung not installed (apt-get install tsung)');
  const dir = mkdtempSync(`${os.tmpdir()}/wsrace-tsung-`);
  writeFileSync(`${dir}/tsung.xml`, xml);
  const env = { ...process.env, ERL_FLAGS: `${process.env.ERL_FLAGS ?? ''} -tsung_controller dumpstats_interval 1000`.trim() };
  // Its own process group: the bash script, the VM and its helpers stop together.
  const child = spawn(cmd, ['-n', '-w', '0', '-f', `${dir}/tsung.xml`, '-l', `${dir}/log`, 'start'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
  const pid = /** @type {number} */ (child.pid);
  const logDir = () => {
    if (!existsSync(`${dir}/log`)) return null;
    const sub = readdirSync(`${dir}/log`)[0];
    return sub ? `${dir}/log/${sub}` : null;
  };
  let stoppedByUs = false;
  const stop = () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const tick = setInterval(() => {
    if (onTick?.(pid, logDir())) {
      stoppedByUs = true;
      stop();
    }
  }, 250);
  const limit = setTimeout(() => {
    stoppedByUs = true;
    stop();
  }, limitS * 1000);
  const code = await exited;
  clearInterval(tick);
  clearTimeout(limit);
  stop(); // helpers left in its group (erl_child_setup, inet_gethost)
  const logs = logDir();
  const result = { code, stoppedByUs, out: out.trim().split('\n').slice(-3).join(' | '), stats: logs && existsSync(`${logs}/tsung.log`) ? readFileSync(`${logs}/tsung.log`, 'utf8') : '', controller: logs ? readdirSync(logs).filter((f) => f.startsWith('tsung_controller')).map((f) => readFileSync(`${logs}/${f}`, 'utf8')).join('\n') : '' };
  rmSync(dir, { recursive: true, force: true });
  return result;
}

/**
 * Tsung at `rate` for `seconds`: on schedule when every user it was asked for started, each
 * whole second of the phase started rate ± 3√rate users (Poisson's spread; the phase's first and
 * last seconds are partial), every session finished, no error counted and no overload reported.
 * @param {string} url
 * @param {number} rate
 * @param {number} seconds
 * @param {string} source
 */
export async function tsungRate(url, rate, seconds, source) {
  const r = await runTsung(config(new URL(url), [[seconds, rate]], [source], 0), seconds * 3 + 30);
  const dumps = parseTsungLog(r.stats);
  // A Tsung that did not run is no measurement: the caller reports it skipped, with why.
  if (!dumps.length) throw new Error(`tsung wrote no stats (exit ${r.code}): ${r.out}`);
  const total = (/** @type {string} */ name) => dumps.reduce((m, d) => Math.max(m, d.values.get(name)?.[1] ?? 0), 0);
  const started = dumps.map((d) => d.values.get('users_count')?.[0] ?? 0);
  const first = started.findIndex((n) => n > 0);
  const last = started.length - 1 - [...started].reverse().findIndex((n) => n > 0);
  const whole = first >= 0 ? started.slice(first + 1, last) : [];
  const spread = 3 * Math.sqrt(rate);
  const errors = Object.fromEntries([...new Set(dumps.flatMap((d) => [...d.values.keys()]))].filter((k) => k.startsWith('error')).map((k) => [k, total(k)]));
  const notLaunched = /more than \d+% \(([\d.]+)%\) of users were not launched in time \((\d+) users\)/.exec(r.controller);
  const overloadReported = /overloaded/.test(r.controller);
  const scheduled = Math.round(rate * seconds);
  const users = total('users_count');
  const finished = total('finish_users_count');
  const ok = r.code === 0 && !r.stoppedByUs && users >= scheduled - spread * Math.sqrt(seconds) && whole.length > 0 && whole.every((n) => Math.abs(n - rate) <= spread) && finished === users && total('websocket_succ') >= users && Object.keys(errors).length === 0 && !overloadReported;
  return {
    scheduled,
    users,
    finished,
    upgraded: total('websocket_succ'),
    perSecond: started.slice(Math.max(0, first), last + 1),
    wholeSecondsMin: whole.length ? Math.min(...whole) : null,
    wholeSecondsMax: whole.length ? Math.max(...whole) : null,
    errors,
    overloadReported,
    notLaunched: notLaunched ? Number(notLaunched[2]) : 0,
    // How far behind its schedule it was when the phase ended, from its own count of users not launched in time.
    behindAtEndMs: notLaunched ? Math.round((Number(notLaunched[2]) / rate) * 1000) : 0,
    exit: r.code,
    ok,
  };
}

/**
 * Tsung holding `sockets` sockets: 3 s at 2 users/s (its idle baseline), then 2,000 users/s,
 * each holding its socket 600 s. Not slower at first: Tsung waits out the interarrival it drew
 * at the old rate when a phase changes (at 0.3/s, ~3 s: longer than the next phase). The second
 * phase is long and capped at `sockets` users (maxnumber), as a phase that runs out of time
 * drops the users it has not launched. `sample(pid)` is called every 250 ms; the run stops when it
 * returns true (or after a minute more than the opening needs).
 * @param {string} url
 * @param {number} sockets
 * @param {string[]} sources
 * @param {(pid: number) => boolean} sample
 */
export async function tsungHold(url, sockets, sources, sample) {
  const phases = /** @type {[number, number, number?][]} */ ([[3, 2], [60, 2000, sockets]]);
  const r = await runTsung(config(new URL(url), phases, sources, 600), Math.ceil(sockets / 2000) + 60, (pid) => sample(pid));
  return { code: r.code, out: r.out };
}
