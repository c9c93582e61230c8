// CPU seconds of a process's threads, read from /proc (Linux): what the probes print per thread.
import { readFileSync, readdirSync } from 'node:fs';

/**
 * CPU seconds by thread (`tid[ main] name`) and the process total (which keeps the time of
 * threads that exited).
 * @param {number | undefined} pid
 * @returns {Record<string, number>}
 */
export function threadCpu(pid) {
  /** @param {string} stat */
  const seconds = (stat) => {
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in USER_HZ
  };
  /** @type {Record<string, number>} */
  const out = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out[`${tid}${Number(tid) === pid ? ' main' : ''} ${name}`] = seconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  out.total = seconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return out;
}

/**
 * The CPU seconds from `a` to `b`, thread by thread, those under 0.05 s left out.
 * @param {Record<string, number>} a
 * @param {Record<string, number>} b
 */
export const cpuDelta = (a, b) => Object.fromEntries(Object.entries(b).map(([k, v]) => /** @type {const} */ ([k, +(v - (a[k] ?? 0)).toFixed(2)])).filter(([, v]) => v >= 0.05));
