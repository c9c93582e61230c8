import type { AttemptRecord } from './attempt.js';

/** One reconnecting client, followed through its attempts (times are epoch ms). */
export interface ClientProgress {
  /** Scheduled start of its first attempt. */
  firstSched: number;
  attempts: number;
  /** When its first socket that worked completed its script; null if none did. */
  connectedAt: number | null;
}

/** A socket "worked" for its client: it completed its script and the client closed it. */
export function connected(r: AttemptRecord): boolean {
  return r.outcome === 'close' && r.serverClosed === false && r.ok !== undefined;
}

/**
 * Follows clients through their attempts (records arrive per worker, first attempt first).
 * timeline/clients-report.ts folds them into summary.json's clients block.
 */
export class ClientTracker {
  private readonly byClient = new Map<number, ClientProgress>();

  add(r: AttemptRecord): void {
    if (r.client === undefined) return;
    let c = this.byClient.get(r.client);
    if (!c) this.byClient.set(r.client, (c = { firstSched: r.sched, attempts: 0, connectedAt: null }));
    if ((r.try ?? 0) === 0) c.firstSched = r.sched;
    c.attempts++;
    if (c.connectedAt === null && connected(r)) c.connectedAt = r.ok!;
  }

  /** Every client seen, in the order its first record arrived. */
  clients(): ClientProgress[] {
    return [...this.byClient.values()];
  }
}
