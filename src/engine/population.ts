import type { AttemptRecord } from '../record/attempt.js';
import { POPULATION_BASE, type AddedAttempt, type PopulationSettings } from './protocol.js';
import { retryDelay } from './reconnect-policy.js';

/**
 * The population clients a stripe owns (client k goes to stripe k mod count, as the schedule's
 * attempts do), each client's first attempt spread evenly over `overMs` from `start` (epoch ms):
 * client k at start + k·overMs/clients.
 */
export function populationShare(p: PopulationSettings | null, stripe: { index: number; count: number }, start: number): AddedAttempt[] {
  if (p === null) return [];
  const out: AddedAttempt[] = [];
  for (let k = stripe.index; k < p.clients; k += stripe.count) out.push({ i: POPULATION_BASE + k, sched: start + (k * p.overMs) / p.clients, client: POPULATION_BASE + k, try: 0 });
  return out;
}

/** Whether an attempt belongs to a population client (by its client, the first attempt's index). */
export function isPopulationClient(client: number | undefined): boolean {
  return client !== undefined && client >= POPULATION_BASE;
}

export { worked } from '../record/clients.js';

/**
 * When a population client tries again after attempt `r` ended, or null: it does not (an
 * outcome `reconnect.on` does not list, `max` failures in a row, or the population's time is up).
 * `failures` counts the client's attempts that failed in a row, `r` included (0 when `r` worked
 * and then dropped): the backoff grows with it and starts over after every working socket.
 */
export function populationRetryDelay(p: PopulationSettings, r: AttemptRecord, failures: number, rand: number): number | null {
  return retryDelay(p.reconnect, { ...r, try: failures }, rand);
}
