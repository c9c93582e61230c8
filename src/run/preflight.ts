import { readdirSync, readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { peakRate, type Stage } from '../schedule/arrival.js';
import { RunError } from './errors.js';

/** Descriptors kept back for the process itself: logs, report files, the pool, the target's pipes. */
export const FD_RESERVE = 128;

/** The soft limit on open files (Node raises it to the hard limit at start-up), or null off Linux. */
export function openFileLimit(): number | null {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(limits);
    if (!m) return null;
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch {
    return null;
  }
}

/** Descriptors this process has open now (Linux), counted once before the run. */
export function openFileCount(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/**
 * Upper bound on sockets open at once: the peak arrival rate times the longest an attempt can
 * live (handshake timeout + expect wait + hold). Little's law with worst-case times.
 */
export function estimatePeakSockets(stages: readonly Stage[], lifetimeMs: number): number {
  return Math.ceil(peakRate(stages) * (lifetimeMs / 1000));
}

export interface CapacityPlan {
  /** Sockets (open or opening) allowed at once; attempts beyond it are counted as dropped. */
  capacity: number;
  fdLimit: number | null;
  estimatedPeak: number;
}

/** Decides the socket cap; throws RunError when the scenario cannot fit this process's descriptors. */
export function planCapacity(
  stages: readonly Stage[],
  lifetimeMs: number,
  maxConnections: number | undefined,
  fdLimit = openFileLimit(),
  inUse = openFileCount(),
  shards = 1,
  /** load.population's clients, each holding one socket at a time, on top of the arrivals. */
  population = 0,
): CapacityPlan {
  // A shard runs 1/N of the schedule, so it holds about 1/N of the sockets.
  const estimatedPeak = Math.ceil((estimatePeakSockets(stages, lifetimeMs) + population) / shards);
  const available = fdLimit === null ? Number.MAX_SAFE_INTEGER : fdLimit - FD_RESERVE - inUse;
  const needed = Math.min(maxConnections ?? estimatedPeak, estimatedPeak);
  if (fdLimit !== null && (needed > available || (maxConnections !== undefined && maxConnections > available))) {
    const want = Math.max(needed, maxConnections ?? 0);
    throw new RunError(
      `this scenario may hold up to ${want} sockets at once (${maxConnections !== undefined && maxConnections >= needed ? 'load.maxConnections' : `${population > 0 ? `${population} population clients + ` : ''}peak rate ${peakRate(stages)}/s × ${(lifetimeMs / 1000).toFixed(1)} s worst-case socket life`}), ` +
        `but this process may open only ${fdLimit} files (${inUse} already open, ${FD_RESERVE} kept for wsrace itself). ` +
        `Raise the limit with \`ulimit -n ${want + FD_RESERVE + inUse}\` (the hard limit: \`ulimit -Hn\`), lower load.maxConnections or the rate, or split the run into shards.`,
    );
  }
  return { capacity: Math.min(maxConnections ?? available, available), fdLimit, estimatedPeak };
}

/** Fails fast (exit 3) when the target's host name does not resolve: no attempt could reach it. */
export async function checkResolvable(url: string): Promise<void> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host)) return;
  try {
    await lookup(host);
  } catch (err) {
    throw new RunError(`target ${url} is unreachable: cannot resolve host "${host}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
