/**
 * What happened to one connection attempt. Every attempt ends as exactly one outcome:
 * - `close`: it opened, then closed with `code` (1006 when no close frame came), `reason` kept;
 * - `http`: the upgrade was rejected with HTTP `status` (503, 403, 429 …);
 * - `refused` (ECONNREFUSED), `reset` (ECONNRESET before open), `handshake_timeout`;
 * - `expect_timeout`: it opened but the expected message never came (the message-lost race);
 * - `dropped`: a cap (maxConnections, descriptors) stopped it from starting;
 * - `interrupted`: the run was stopped or its drain time ran out while it was in progress;
 * - `lost`: its worker thread died, taking the attempt (and what it knew of it) down with it;
 * - `error`: anything else, with `err` naming it (EMFILE, invalid_accept, …).
 */
export type OutcomeKind =
  | 'close'
  | 'http'
  | 'refused'
  | 'reset'
  | 'handshake_timeout'
  | 'expect_timeout'
  | 'dropped'
  | 'interrupted'
  | 'lost'
  | 'error';

/**
 * A load.population client's first attempt has index POPULATION_BASE + its number, and each of
 * its attempts has that index as `client`: the schedule's own attempts stay below it.
 */
export const POPULATION_BASE = 0x20000000;

/** Times are epoch milliseconds on the clock shared by all threads (see util/clock.ts). */
export interface AttemptRecord {
  /** Global attempt index in the schedule. */
  i: number;
  /** Worker that ran it. */
  w: number;
  sched: number;
  start: number | null;
  tcp: number | null;
  up: number | null;
  open: number | null;
  first: number | null;
  end: number;
  outcome: OutcomeKind;
  code?: number;
  reason?: string;
  status?: number;
  err?: string;
  /** Reconnecting clients: the client (its first attempt's index) and the attempt number (0 = first). */
  client?: number;
  try?: number;
  /** When the session's script completed (open with no script; the expected message; every step). */
  ok?: number;
  /** TLS handshake done (wss://). */
  tls?: number;
  /** The scripted step that failed (session.steps) and how: timed out, or the socket closed during it. */
  step?: string;
  stepFail?: 'timeout' | 'closed';
  /** Local (client) port, to join an attempt with what the server saw. */
  lport?: number;
  /** The source port wsrace picked first and found taken: the attempt then dialled with the kernel's pick (source-ports.ts). */
  portTaken?: number;
  /** session.stream: when the socket's first reply came (the user is back once answered). */
  reply?: number;
  /** session.stream: what this socket's messages came to (sent = replied + late + lost). */
  msgs?: { sent: number; replied: number; late: number; lost: number };
  /** For `close`: true when the server (or the network) ended the socket, not the client. */
  serverClosed?: boolean;
  /** Reconnecting clients: true on the attempt after which the client stopped trying while the run went on (`max` used, an outcome `reconnect.on` does not list, or wsrace's socket cap). */
  gaveUp?: true;
}

/** The failure buckets that summary.json's totals.errors always lists (defined where scenarios name them). */
export { ERROR_KINDS, type ErrorKind } from '../scenario/error-kinds.js';
