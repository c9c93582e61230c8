import type { Histogram } from 'hdr-histogram-js';
import { POPULATION_BASE, type AttemptRecord } from './attempt.js';
import { createHistogram, recordMs } from './histogram.js';
import { countInto } from '../util/counts.js';
import { SERVED_AFTER_MS } from '../scenario/served-after.js';

/** One reconnecting client, followed through its attempts (times are epoch ms). */
export interface ClientProgress {
  /** Scheduled start of its first attempt. */
  firstSched: number;
  attempts: number;
  /** When its first socket that worked completed its script; null if none did. */
  connectedAt: number | null;
  /** Times one of its working sockets was cut (a disconnect), and times it came back after one. */
  drops: number;
  back: number;
  /** When the drop it has not come back from happened (epoch ms); null when it is connected or never dropped. */
  droppedAt: number | null;
  /** Attempts since that drop. */
  sinceDrop: number;
  /** The `reconnect.on` key of its latest attempt (outcomeKey): why a client not back stopped, or what it met last. */
  last: string;
  /** Its latest attempt was its last by its policy (`max` used, or an outcome `on` does not list): it stopped trying before the end. */
  gaveUp: boolean;
  /** The `try` of its latest attempt: `last` and `gaveUp` are that attempt's, whatever order the records came in. */
  lastTry: number;
}

/**
 * The key `reconnect.on` lists an outcome by: the close code for `close` ("1011"), `http_<status>`
 * for `http` ("http_503"), else the outcome's own name ("refused", "expect_timeout" …).
 */
export function outcomeKey(r: Pick<AttemptRecord, 'outcome' | 'code' | 'status'>): string {
  if (r.outcome === 'close') return String(r.code);
  if (r.outcome === 'http') return `http_${r.status}`;
  return r.outcome;
}

/** A socket "worked" for its client: it completed its script and the client closed it. */
export function connected(r: AttemptRecord): boolean {
  return r.outcome === 'close' && r.serverClosed === false && r.ok !== undefined;
}

export { SERVED_AFTER_MS };

/** session.servedAfter of a run folder's scenario.json (parsed); SERVED_AFTER_MS for an older folder without it. */
export function servedAfterOf(scenario: unknown): number {
  const v = (scenario as { session?: { servedAfter?: unknown } } | null)?.session?.servedAfter;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : SERVED_AFTER_MS;
}

type Served = Pick<AttemptRecord, 'open' | 'ok' | 'msgs' | 'reply' | 'end' | 'serverClosed'>;

/**
 * A socket served its client: it opened, its script completed and, when it streamed, a message of
 * it was answered; without a stream, the server did not close it within `servedAfterMs` of that —
 * however it ended later. A socket the server accepts and closes (1011) before answering anything
 * (or at once) never served: for its client the outage goes on, and it is no disconnect.
 */
export function worked(r: Served, servedAfterMs = SERVED_AFTER_MS): boolean {
  if (r.open === null || r.ok === undefined) return false;
  if (r.msgs !== undefined) return r.reply !== undefined;
  return r.serverClosed !== true || r.end - r.ok >= servedAfterMs;
}

/** A socket that served its client was then cut by the server or the network: its client must reconnect. */
export function dropped(r: Served & Pick<AttemptRecord, 'outcome'>, servedAfterMs = SERVED_AFTER_MS): boolean {
  return worked(r, servedAfterMs) && r.outcome === 'close' && r.serverClosed === true;
}

/**
 * A disconnect (summary.disconnects): an open socket the server or the network closed, wsrace not
 * having asked. An arrival's counts once it opened (a cut mid-hold is one); a reconnecting
 * client's only once it served its client (dropped): a retry accepted and closed at once is the
 * herd's failed attempt, not a client cut.
 */
export function disconnected(r: Served & Pick<AttemptRecord, 'outcome' | 'client'>, servedAfterMs = SERVED_AFTER_MS): boolean {
  if (r.outcome !== 'close' || r.serverClosed !== true || r.open === null) return false;
  return r.client === undefined || worked(r, servedAfterMs);
}

/**
 * The user-felt cost of the drops: time back to a working socket, to the first answer, and the
 * attempts it took (one entry per time a client came back); and how late wsrace started each
 * retry against the moment its backoff set (one entry per retry that started).
 */
export interface Reconnects {
  reconnectMs: Histogram;
  outageMs: Histogram;
  retryLagMs: Histogram;
  /** How many times a comeback took n attempts, by n. */
  attempts: Record<string, number>;
}

/**
 * Follows clients through their attempts (records arrive per worker, a client's in order: its
 * next attempt starts after the last ended). timeline/clients-report.ts folds them into
 * summary.json's clients block.
 */
export class ClientTracker {
  private readonly byClient = new Map<number, ClientProgress>();
  readonly reconnects: Reconnects = { reconnectMs: createHistogram(), outageMs: createHistogram(), retryLagMs: createHistogram(), attempts: {} };
  /** Every client's drops so far (the progress line's). */
  drops = 0;

  /** `streams`: the scenario has a stream, so a client is back at its first answered message, not at open; `servedAfterMs`: session.servedAfter. */
  constructor(
    private readonly streams = false,
    readonly servedAfterMs = SERVED_AFTER_MS,
  ) {}

  add(r: AttemptRecord): void {
    if (r.client === undefined) return;
    let c = this.byClient.get(r.client);
    if (!c) this.byClient.set(r.client, (c = { firstSched: r.sched, attempts: 0, connectedAt: null, drops: 0, back: 0, droppedAt: null, sinceDrop: 0, last: '', gaveUp: false, lastTry: -1 }));
    if ((r.try ?? 0) >= c.lastTry) {
      c.lastTry = r.try ?? 0;
      c.last = outcomeKey(r);
      c.gaveUp = r.gaveUp === true;
    }
    if ((r.try ?? 0) === 0) c.firstSched = r.sched;
    // A retry's sched is its drop (or failure) as the worker saw it plus the backoff: start − sched is wsrace's own lateness.
    else if (r.start !== null) recordMs(this.reconnects.retryLagMs, r.start - r.sched);
    c.attempts++;
    // A population client's socket is never closed by the client before the end: one that worked, connected it.
    if (c.connectedAt === null && (r.client >= POPULATION_BASE ? worked(r, this.servedAfterMs) : connected(r))) c.connectedAt = r.ok!;
    if (c.droppedAt !== null) this.afterDrop(c, r);
    if (dropped(r, this.servedAfterMs)) {
      this.drops++;
      c.drops++;
      c.droppedAt = r.end;
      c.sinceDrop = 0;
    }
  }

  /** An attempt after a drop: the client is back once a socket works (and, with a stream, answers). */
  private afterDrop(c: ClientProgress, r: AttemptRecord): void {
    c.sinceDrop++;
    const answeredAt = this.streams ? r.reply : r.ok;
    if (!worked(r, this.servedAfterMs) || answeredAt === undefined) return;
    c.back++;
    recordMs(this.reconnects.reconnectMs, r.ok! - c.droppedAt!);
    recordMs(this.reconnects.outageMs, answeredAt - c.droppedAt!);
    countInto(this.reconnects.attempts, String(c.sinceDrop));
    c.droppedAt = null;
  }

  /**
   * Reconnecting clients (session.reconnect, not a population's) whose last finished attempt left
   * them connected. A population's clients hold their socket until the end, so no record says
   * they are connected while it is open: the workers count those (WorkerTick.clientsOpen).
   */
  connectedNow(): number {
    let n = 0;
    for (const [client, c] of this.byClient) if (client < POPULATION_BASE && c.connectedAt !== null && c.droppedAt === null) n++;
    return n;
  }

  /** Every client seen, in the order its first record arrived. */
  clients(): ClientProgress[] {
    return [...this.byClient.values()];
  }
}
