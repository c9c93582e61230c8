import type { MessagePort } from 'node:worker_threads';
import type { Stage } from '../schedule/arrival.js';
import type { AttemptRecord } from '../record/attempt.js';
import type { Metric } from '../record/histogram.js';
import type { PortRange } from './source-ports.js';
import type { NicePlan } from './priority.js';

/** One scripted step of a session, resolved from the scenario (names filled in). */
export type StepSpec =
  | { kind: 'send'; text: string }
  | { kind: 'expect'; name: string; match: string | null; json: Record<string, unknown> | null; withinMs: number }
  | { kind: 'sleep'; ms: number }
  | { kind: 'ping'; name: string; withinMs: number }
  | { kind: 'close'; code: number; reason: string };

/** session.stream, resolved. */
export interface StreamSettings {
  everyMs: number;
  /** The message, with ${seq} and ${sentAt} (and the per-connection placeholders). */
  send: string;
  /** What a reply looks like: a regex, a JSON subset, or (both null) any message. */
  match: string | null;
  json: Record<string, unknown> | null;
  /** JSON path of the echoed sequence number; null: replies answer messages in order. */
  seq: string | null;
  withinMs: number;
}

/** What each attempt does, resolved from the scenario once per run. */
export interface ConnectionSettings {
  url: string;
  headers: Record<string, string>;
  subprotocols: string[];
  handshakeTimeoutMs: number;
  perMessageDeflate: boolean;
  maxPayload: number;
  holdMs: number;
  send: string[];
  expect: { match: string; withinMs: number } | null;
  closeTimeoutMs: number;
  /** session.servedAfter: without a stream, a socket the server closes sooner after its steps never served its client (record/clients.ts worked()). */
  servedAfterMs: number;
  /** Source addresses, rotated by attempt index; empty: the system picks. */
  localAddresses: string[];
  /** With source addresses, the ports wsrace picks from (each worker its stripe's slice: source-ports.ts); null: the kernel picks. */
  sourcePorts: PortRange | null;
  /** Scripted steps (session.steps); null: the send/expect shorthand above. */
  steps: StepSpec[] | null;
  /** Rows for ${user.x} templates, round robin by attempt index; null: none. */
  users: Record<string, string>[] | null;
  /** Reconnecting clients: outcome keys to retry on ("1011", "http_503", "refused" …) and the backoff. */
  reconnect: { on: string[]; max: number; initialMs: number; factor: number; maxMs: number; jitter: number } | null;
  /** session.stream: a message every `everyMs` from open, its reply matched (regex or JSON subset, by `seq` or in order) and timed. */
  stream: StreamSettings | null;
  /** session.serverSeq: a JSON path whose number in the server's messages counts up (a skip is a gap); null: not checked. */
  serverSeq: string | null;
  /** TLS options for wss:// (ca as PEM text). */
  tls: { ca?: string; insecure: boolean; servername?: string } | null;
}

/**
 * load.population: `clients` clients connect spread over `overMs` from the schedule's start and
 * stay connected until `endMs` after it, reconnecting on every drop (`reconnect`'s outcomes and
 * backoff; `max` consecutive failures and a client gives up).
 */
export interface PopulationSettings {
  clients: number;
  overMs: number;
  endMs: number;
  reconnect: NonNullable<ConnectionSettings['reconnect']>;
}

/** Population clients' indices (record/attempt.ts). */
export { POPULATION_BASE } from '../record/attempt.js';

/** The one long-lived task each worker thread runs. */
export interface WorkerTask {
  workerIndex: number;
  workerCount: number;
  /** Global stripe of the schedule this worker owns (index, count over all workers and shards). */
  stripe: { index: number; count: number };
  stages: Stage[];
  /** Sockets (open or opening) this worker may hold at once; beyond it attempts are dropped. */
  capacity: number;
  /** After the last scheduled start, how long in-flight attempts may take before they are cut. */
  drainTimeoutMs: number;
  /** Interval between progress messages (and interval histograms). */
  tickMs: number;
  connection: ConnectionSettings;
  /** When true, more attempts may be added at run time (load.onReady): finish only after `seal`. */
  awaitSeal: boolean;
  /** load.population; null: none. */
  population: PopulationSettings | null;
  /** Loopback connections to make before reporting ready (JIT warm-up), at most one per attempt. */
  warmup: number;
  /** Fraction of its time a worker may busy-wait through the last 1.5 ms before a start (see wake.ts). */
  spinBudget: number;
  /** The nice this worker thread asks for (priority.ts); null: it keeps the process's. */
  nice: NicePlan | null;
  port: MessagePort;
}

/** An attempt added at run time (the on-ready burst): its global index and scheduled epoch ms. */
export interface AddedAttempt {
  i: number;
  sched: number;
  /** Reconnects: the client (its first attempt's index) and this attempt's number (0 = first). */
  client?: number;
  try?: number;
}

/** `go` carries the epoch ms of the schedule's offset 0 and of T0, sent once every worker is ready. */
export type MainToWorker =
  | { type: 'go'; scheduleStart: number; t0: number }
  | { type: 'add'; attempts: AddedAttempt[] }
  | { type: 'seal' }
  | { type: 'stop'; reason: 'interrupt' | 'deadline' };

/** Finished attempts, posted every few hundred of them between ticks (small clones, short-lived objects). */
export interface WorkerRecords {
  type: 'records';
  worker: number;
  records: AttemptRecord[];
}

/** session.stream's message entries, MESSAGE_FIELDS numbers each (record/messages.ts), posted when a batch fills. */
export interface WorkerMessages {
  type: 'messages';
  worker: number;
  data: Float64Array;
}

export interface WorkerTick {
  type: 'tick' | 'done';
  worker: number;
  /** Epoch ms when this interval ended. */
  at: number;
  /** Epoch ms when this interval started. */
  from: number;
  records: AttemptRecord[];
  /** Interval histograms (reset after each tick), encoded; null when nothing was recorded. */
  histograms: Partial<Record<Metric, string>>;
  /** Message entries not yet posted (session.stream). */
  messages?: Float64Array;
  /** Per-step interval histograms (session.steps): time from the step's start and from open. */
  steps?: Record<string, { fromStart?: string; fromOpen?: string }>;
  openNow: number;
  /** Of them, a population's clients' sockets (load.population): its clients connected now. */
  clientsOpen: number;
  inFlight: number;
  /** Scheduled attempts not yet started. */
  pending: number;
}

export interface WorkerReady {
  type: 'ready';
  worker: number;
  /** Attempts this worker owns in the schedule. */
  scheduled: number;
  /** The worker thread's nice (Linux), after it asked for its task's nice; null where unknown. */
  nice: number | null;
}

export type WorkerToMain = WorkerReady | WorkerRecords | WorkerMessages | WorkerTick;
