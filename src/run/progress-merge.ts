import type { Progress } from './recorder.js';
import { sumCounts } from '../util/counts.js';

/**
 * The progress of one run from its shard processes' latest reports (pure): counts added up, the
 * time the furthest, the phase the one that watches the timeline reports (the others have none).
 * Null before any shard has reported.
 */
export function mergeProgress(parts: readonly Progress[]): Progress | null {
  if (parts.length === 0) return null;
  let out: Progress = { elapsedMs: 0, scheduled: 0, attempted: 0, perSecond: 0, openNow: 0, opened: 0, failures: {} };
  for (const p of parts) {
    out = {
      ...out,
      elapsedMs: Math.max(out.elapsedMs, p.elapsedMs),
      scheduled: out.scheduled + p.scheduled,
      attempted: out.attempted + p.attempted,
      perSecond: out.perSecond + p.perSecond,
      openNow: out.openNow + p.openNow,
      opened: out.opened + p.opened,
      failures: sumCounts(out.failures, p.failures),
      ...(p.messages ? { messages: { perSecond: (out.messages?.perSecond ?? 0) + p.messages.perSecond, lost: (out.messages?.lost ?? 0) + p.messages.lost } } : {}),
      ...(p.clients ? { clients: { retries: (out.clients?.retries ?? 0) + p.clients.retries, drops: (out.clients?.drops ?? 0) + p.clients.drops } } : {}),
      ...(p.population ? { population: { connected: (out.population?.connected ?? 0) + p.population.connected, clients: (out.population?.clients ?? 0) + p.population.clients } } : {}),
      ...(out.phase === undefined && p.phase !== undefined ? { phase: p.phase } : {}),
    };
  }
  return out;
}

/** A shard's last progress once it has ended: its counts stay, nothing of it is open or going on. */
export function endedProgress(p: Progress): Progress {
  return {
    ...p,
    perSecond: 0,
    openNow: 0,
    ...(p.messages ? { messages: { ...p.messages, perSecond: 0 } } : {}),
    ...(p.population ? { population: { ...p.population, connected: 0 } } : {}),
  };
}
