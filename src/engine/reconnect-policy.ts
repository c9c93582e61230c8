import type { AttemptRecord } from '../record/attempt.js';
import { outcomeKey } from '../record/clients.js';
import type { ConnectionSettings } from './protocol.js';

/** session.reconnect, resolved: the outcome keys to retry on and the backoff. */
export type ReconnectSettings = NonNullable<ConnectionSettings['reconnect']>;

/**
 * How long after `r` ended its client tries again, or null when it does not: no reconnect
 * settings, not a client's attempt, its `max` retries used, or an outcome `on` does not list.
 * Try n waits min(maxMs, initialMs·factor^n), spread by ±jitter of that: `rand` in [0, 1)
 * (Math.random()) maps 0 to −jitter, 0.5 to none, 1 to +jitter.
 */
export function retryDelay(rc: ReconnectSettings | null, r: AttemptRecord, rand: number): number | null {
  if (!rc || r.client === undefined) return null;
  const attemptNo = r.try ?? 0;
  if (attemptNo >= rc.max) return null;
  if (!rc.on.includes(outcomeKey(r))) return null;
  const base = Math.min(rc.maxMs, rc.initialMs * rc.factor ** attemptNo);
  return base * (1 + rc.jitter * (2 * rand - 1));
}
