import cluster, { type Worker } from 'node:cluster';
import { basename, dirname, extname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { SimConfigError, type ResolvedSimOptions } from './config.js';
import { httpUrl, wsUrl } from './address.js';
import { nowEpochMs } from './truth.js';

/**
 * `wsrace sim --processes N`: N simulator processes behind one port (node:cluster, each process
 * accepting from the one listening socket; the kernel spreads the connections about evenly, so
 * none holds much more than its share of descriptors). All play the same cold start or rollout: the primary's t0 is every
 * process's t0, so B starts, traffic moves and A drains at the same model instant everywhere,
 * each process over the sockets it holds. Process 0 alone writes the phase log (the others keep
 * the same clock silently); process k writes its own truth file, FILE with `.k` before the
 * extension (truth.ndjson → truth.0.ndjson, truth.1.ndjson, …).
 */

/** What a simulator process is told: the primary's resolved options, its index and the shared t0 (env WSRACE_SIM_PROCESS, JSON). */
export interface SimProcessSpec {
  options: ResolvedSimOptions;
  index: number;
  count: number;
  t0: number;
}

/** Process → primary; `rollout`: a POST /_sim/rollout reached that process `atMs` after t0. */
export type FromSimProcess = { type: 'listening'; port: number } | { type: 'failed'; message: string; exitCode: number } | { type: 'rollout'; atMs: number };
/**
 * Primary → process; `rollout`: start B at `atMs` after t0 (the first request's moment);
 * `rollout-told`: to the process a request reached, when B starts (`atMs`), every other process
 * told, and whether its request was the first (`first`: answered 202, else 409).
 */
export type ToSimProcess = { type: 'stop' } | { type: 'rollout'; atMs: number } | { type: 'rollout-told'; atMs: number; first: boolean };

export const SIM_PROCESS_ENV = 'WSRACE_SIM_PROCESS';
/** One process may hold 20,000 descriptors here; 64 processes is far past what a machine needs. */
export const MAX_SIM_PROCESSES = 64;

/** FILE with `.k` before its extension: truth.ndjson → truth.2.ndjson; no extension: truth → truth.2. */
export function truthFileOf(file: string, k: number): string {
  const ext = extname(file);
  return join(dirname(file), `${basename(file, ext)}.${k}${ext}`);
}

/** The simulator options of process k: the shared t0, its own truth file, the phase log only in process 0. */
export function processOptions(spec: SimProcessSpec): ResolvedSimOptions & { t0: number; logs: boolean } {
  const { options, index, t0 } = spec;
  return { ...options, t0, logs: index === 0, ...(options.truth ? { truth: truthFileOf(options.truth, index) } : {}) };
}

/** `--processes`: a whole number 1–64; `refuse` cannot share a port (it must not listen before ready, and borrows a port to name). */
export function checkProcesses(n: number, profile: string): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_SIM_PROCESSES) throw new SimConfigError(`sim option --processes: expected a whole number from 1 to ${MAX_SIM_PROCESSES}, found ${n}`);
  if (n > 1 && profile === 'refuse') throw new SimConfigError('sim option --processes: the refuse profile runs in one process (it may not listen before ready)');
}

/**
 * --rollout-on-request across processes: a request reaches one of them, which asks here. The first
 * request's moment is B's start in every process: the others are told, then the asker (which
 * answers 202 only then, so a stop sent after the answer reaches every process after its
 * `rollout`). A later request, wherever it landed, learns that moment and is answered 409.
 */
function passRolloutOn(workers: Worker[]): void {
  let startAt: number | null = null;
  const send = (w: Worker, m: ToSimProcess) => w.isConnected() && w.send(m, undefined, () => undefined);
  workers.forEach((from) =>
    from.on('message', (m: FromSimProcess) => {
      if (m.type !== 'rollout') return;
      const first = startAt === null;
      if (first) {
        startAt = m.atMs;
        for (const w of workers) if (w !== from) send(w, { type: 'rollout', atMs: m.atMs });
      }
      send(from, { type: 'rollout-told', atMs: startAt!, first });
    }),
  );
}

/** What the primary knows once every process listens. */
export interface SimCluster {
  url: string;
  httpUrl: string;
  t0: number;
  /** Each process's truth file, by index; empty without --truth. */
  truthFiles: string[];
}

export interface ClusterIo {
  stdout: Writable;
  stderr: Writable;
  signal?: AbortSignal;
  onStarted?: (c: SimCluster) => void;
}

/**
 * Forks the N processes, waits until all listen, then until the signal; stops them all and
 * resolves when every one has exited (their truth files closed). A process that fails to start or
 * dies early stops the rest and rejects.
 */
export async function runSimProcesses(options: ResolvedSimOptions, n: number, io: ClusterIo): Promise<SimCluster> {
  const t0 = nowEpochMs();
  // The processes accept from the shared socket themselves: node's default round robin hands each
  // connection over from the primary with an IPC round trip per process, and fell behind the
  // clients' handshake timeout under load (docs/performance.md, "A connected population").
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ ...processEntry(), silent: true });
  const workers = Array.from({ length: n }, (_, index) => forkOne({ options, index, count: n, t0 }, io));
  if (options.profile === 'rollout' && options.rolloutOnRequest) passRolloutOn(workers);
  const exits = workers.map((w) => new Promise<number | null>((resolve) => w.process.once('exit', (code) => resolve(code))));
  // A process that is stopping already (its own SIGINT) may have closed the channel: nothing to tell it then.
  const stopAll = () => workers.forEach((w) => w.isConnected() && w.send({ type: 'stop' } satisfies ToSimProcess, undefined, () => undefined));
  try {
    const ports = await Promise.all(workers.map((w, k) => listening(w, k, exits[k])));
    const c: SimCluster = { url: wsUrl(options.host, ports[0], options.path), httpUrl: httpUrl(options.host, ports[0]), t0, truthFiles: options.truth ? workers.map((_, k) => truthFileOf(options.truth!, k)) : [] };
    io.onStarted?.(c);
    const early = Promise.race(exits.map((e, k) => e.then((code) => `simulator process ${k} exited early (code ${code})`)));
    const stopped = io.signal ? (io.signal.aborted ? Promise.resolve(null) : new Promise<null>((resolve) => io.signal!.addEventListener('abort', () => resolve(null), { once: true }))) : new Promise<null>(() => {});
    const why = await Promise.race([early, stopped]);
    if (why !== null) throw new Error(`sim: ${why}`);
    return c;
  } finally {
    stopAll();
    await Promise.all(exits);
  }
}

function forkOne(spec: SimProcessSpec, io: ClusterIo): Worker {
  const w = cluster.fork({ [SIM_PROCESS_ENV]: JSON.stringify(spec) });
  w.on('error', () => undefined); // a send to a process that just closed its channel: it is stopping
  // Only process 0 logs; a line is one write there, so it arrives here whole.
  w.process.stdout?.on('data', (d: Buffer) => io.stdout.write(d));
  w.process.stderr?.on('data', (d: Buffer) => io.stderr.write(d));
  return w;
}

/** Resolves with the port once process k listens; rejects with its message if it failed, or if it exited first. */
function listening(w: Worker, k: number, exit: Promise<number | null>): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    w.on('message', (m: FromSimProcess) => {
      if (m.type === 'listening') resolve(m.port);
      else if (m.type === 'failed') reject(Object.assign(new Error(m.message), { exitCode: m.exitCode }));
    });
    void exit.then((code) => reject(new Error(`sim: simulator process ${k} exited before it listened (code ${code})`)));
  });
}

/** The compiled entry beside this file, or the TypeScript source under tsx (tests). */
function processEntry(): { exec: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return { exec: here.replace(/processes\.ts$/, 'sim-process.ts'), execArgv: ['--import', 'tsx'] };
  return { exec: here.replace(/processes\.js$/, 'sim-process.js'), execArgv: [] };
}
