import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { resolveSimOptions, type ResolvedSimOptions, type SimOptions, type SimProfile } from './config.js';
import { answerHttp } from './health.js';
import { PhaseLog } from './log.js';
import { computePlan, type StartupPlan } from './phases.js';
import { raceMarks, StartupRunner, type Mark, type RaceMarks, type StartupFlags } from './startup.js';
import { warmDelay, warmOf, type MessageAction, type MessageRecord, type PingHost, type Warm } from './stream.js';
import { nowEpochMs, TruthWriter, type ConnAction, type ConnRecord } from './truth.js';
import { TIME_ORIGIN } from '../util/clock.js';
import { closeServer, httpUrl, listenOn, SIM_BACKLOG, wsUrl } from './address.js';
import { pathOf, Upgrades, type UpgradeHost } from './upgrade.js';
import { RolloutSimulator } from './rollout-server.js';
import { clockOrigin } from './origin.js';
import { planOfTruth, recordStartup } from './startup-truth.js';
import { round3 } from '../util/round.js';
import { countInto } from '../util/counts.js';

/**
 * The cold-start simulator: an HTTP + WebSocket server whose startup clock starts the moment
 * startSimulator() is called (that call is the cold start), and which answers /ws and /health
 * the way the chosen profile says a half-started service does.
 */

export interface SimState {
  profile: SimProfile;
  /** Current phase, `ready`, or `failed`. */
  phase: string;
  /** Phase the startup failed in, if it did. */
  failedPhase?: string;
  failReason?: string;
  ready: boolean;
  failed: boolean;
  bridgeReady: boolean;
  /** /health answers 200. */
  healthy: boolean;
  inLossWindow: boolean;
  listening: boolean;
  /** Wall ms since t0. */
  elapsedMs: number;
  openSockets: number;
  heldUpgrades: number;
  /** Conn records so far, by action. */
  counts: Partial<Record<ConnAction, number>>;
  /** Stream pings settled so far, by what became of them. */
  messages: Partial<Record<MessageAction, number>>;
  /** rollout: the revision new upgrades and /health go to. */
  serving?: 'A' | 'B';
  /** rollout: sockets A closed in its drain so far. */
  drainCloses?: number;
}

export interface SimHandle {
  port: number;
  host: string;
  path: string;
  profile: SimProfile;
  /** ws://host:port/path */
  url: string;
  /** http://host:port */
  httpUrl: string;
  /** Epoch ms (util/clock's now()) when startSimulator was called. */
  t0: number;
  plan: StartupPlan;
  /** racy's early-health and loss-window offsets (wall ms after t0). */
  marks: RaceMarks;
  /** racy's warm-up in wall ms (stream replies `delayMs` late at ready, none `ms` after it); null when off. */
  warm: Warm | null;
  /**
   * 'phase' (name, plannedMs) incl. 'ready'; 'mark' (Mark, plannedMs); 'ready' (ms);
   * 'failed' (reason, ms); 'conn' (ConnRecord, when an upgrade's fate is decided);
   * 'held' ({at, atMs, remote}, queued only); 'drop' (lost-message record); 'msg' (MessageRecord,
   * when a stream ping's fate is final).
   */
  events: EventEmitter;
  state(): SimState;
  /** Resolves with the epoch ms the mark was reached; rejects when it can no longer happen, on close, or after timeoutMs. */
  until(mark: Mark, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

/** Starts the simulator: this call is the cold start (t0), and it resolves once the server listens (refuse: once its port is known). */
export async function startSimulator(options: SimOptions = {}): Promise<SimHandle> {
  return options.profile === 'rollout' ? RolloutSimulator.start(options) : Simulator.start(options);
}

export type { Warm };

interface Waiter {
  mark: Mark;
  resolve: (at: number) => void;
  reject: (e: Error) => void;
}

/**
 * The simulator: its startup clock (StartupRunner) played back, /health and /ws answered from
 * its flags, the truth file written, until() waiters settled as marks pass, and the shutdown.
 */
export class Simulator implements SimHandle, UpgradeHost {
  readonly host: string;
  readonly path: string;
  readonly profile: SimProfile;
  readonly plan: StartupPlan;
  readonly marks: RaceMarks;
  readonly events: StartupRunner;
  readonly flags: StartupFlags;
  readonly phaseNames: readonly string[];
  readonly warm: Warm | null;
  readonly pings: PingHost = {
    sinceT0: (at) => this.sinceT0(at),
    phaseLabel: () => this.phaseLabel(),
    replyDelayMs: (at) => (this.warm === null ? 0 : warmDelay(at - this.warm.readyAt, this.warm.delayMs, this.warm.ms)),
    message: (rec) => this.messageSettled(rec),
    now: nowEpochMs,
  };
  private readonly runner: StartupRunner;
  private readonly truth: TruthWriter | null;
  private readonly counts: Partial<Record<ConnAction, number>> = {};
  private readonly messages: Partial<Record<MessageAction, number>> = {};
  private readonly server: Server;
  private readonly upgrades: Upgrades;
  private readonly waiters = new Set<Waiter>();
  private listenPort: number;
  private closing: Promise<void> | null = null;
  private isStopping = false; // set synchronously by close(), before `closing` is assigned
  private listenError: Error | null = null;

  /** The cold start: t0 is now, and the startup clock runs from here. */
  static async start(options: SimOptions = {}): Promise<Simulator> {
    const { t0Perf, t0 } = clockOrigin(options.t0, TIME_ORIGIN, performance.now());
    const sim = new Simulator(resolveSimOptions(options), new PhaseLog(options.log === undefined ? process.stdout : options.log), t0Perf, t0);
    await sim.listen();
    return sim;
  }

  private constructor(
    readonly options: ResolvedSimOptions,
    log: PhaseLog,
    t0Perf: number,
    readonly t0: number,
  ) {
    const o = options;
    this.host = o.host;
    this.path = o.path;
    this.profile = o.profile;
    this.listenPort = o.port;
    this.plan = computePlan(o.phases, o.timeScale, { envMultiplier: o.envMultiplier, safetyMargin: o.safetyMargin, maxTotal: o.maxTotal });
    this.phaseNames = this.plan.phaseNames;
    this.marks = raceMarks(this.plan, o.profile, o.raceWindowMs, o.lossWindowMs);
    this.warm = warmOf(o, this.plan, t0);
    this.runner = this.events = new StartupRunner(this.plan, this.marks, t0Perf, t0, log);
    this.flags = this.runner.flags;
    this.truth = o.truth ? new TruthWriter(o.truth) : null;
    this.writeTruthOfStartup();
    this.server = createServer((req, res) => this.answerHttp(req, res));
    this.upgrades = new Upgrades(this);
    this.server.on('upgrade', this.upgrades.handle);
    const releaseHeld = () => this.upgrades.releaseHeld();
    this.runner.on('ready', releaseHeld);
    this.runner.on('failed', releaseHeld);
    this.runner.on('mark', () => this.settleWaiters());
  }

  get port(): number {
    return this.listenPort;
  }

  /** ws://host:port/path */
  get url(): string {
    return wsUrl(this.host, this.listenPort, this.path);
  }

  /** http://host:port */
  get httpUrl(): string {
    return httpUrl(this.host, this.listenPort);
  }

  state(): SimState {
    const flags = this.flags;
    return {
      profile: this.profile,
      phase: this.phaseLabel(),
      ...(flags.failed ? { failedPhase: flags.phase, failReason: flags.failReason } : {}),
      ready: flags.ready,
      failed: flags.failed,
      bridgeReady: flags.bridgeReady,
      healthy: !flags.failed && (flags.healthReady || flags.ready),
      inLossWindow: flags.inLossWindow,
      listening: this.server.listening,
      elapsedMs: this.runner.elapsed(),
      openSockets: this.upgrades.open.size,
      heldUpgrades: this.upgrades.held.size,
      counts: { ...this.counts },
      messages: { ...this.messages },
    };
  }

  until(mark: Mark, timeoutMs = 30_000): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`sim: timed out after ${timeoutMs} ms waiting for ${mark}`));
      }, timeoutMs);
      const w: Waiter = {
        mark,
        resolve: (at: number) => (clearTimeout(timer), resolve(at)),
        reject: (e: Error) => (clearTimeout(timer), reject(e)),
      };
      this.waiters.add(w);
      this.settleWaiters();
    });
  }

  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  // ---- UpgradeHost ------------------------------------------------------------------------
  stopping(): boolean {
    return this.isStopping;
  }

  phaseLabel(): string {
    return this.flags.failed ? 'failed' : this.flags.phase;
  }

  sinceT0(at: number): number {
    return round3(at - this.t0);
  }

  record(rec: ConnRecord): void {
    countInto(this.counts, rec.action);
    this.truth?.write(rec);
    this.runner.emit('conn', rec);
  }

  held(info: { at: number; atMs: number; remote: string }): void {
    this.runner.emit('held', info);
  }

  dropped(rec: Parameters<UpgradeHost['dropped']>[0]): void {
    this.truth?.write(rec);
    this.runner.emit('drop', rec);
  }

  // ---- the rest ---------------------------------------------------------------------------
  private messageSettled(rec: MessageRecord): void {
    countInto(this.messages, rec.action);
    this.truth?.write(rec);
    this.runner.emit('msg', rec);
  }

  /** The truth file's start line, and a line for each phase, failure and mark as the clock passes them. */
  private writeTruthOfStartup(): void {
    const { truth, plan, marks, t0, options: o } = this;
    truth?.write({
      type: 'start',
      at: t0,
      atMs: 0,
      t0,
      profile: o.profile,
      timeScale: o.timeScale,
      path: o.path,
      plan: planOfTruth(plan, marks, this.warm),
    });
    if (truth) recordStartup(this.runner, (line) => truth.write(line), (at) => this.sinceT0(at));
  }

  /** /health and its variants from the flags; 426 on the WebSocket path; 404 elsewhere. */
  private answerHttp(req: IncomingMessage, res: ServerResponse): void {
    const pathname = pathOf(req);
    answerHttp(req, res, pathname, this.path, { flags: this.flags, slowStartupAfter: this.options.slowStartupAfter, modelElapsedS: () => this.runner.elapsed() / 1000 / this.options.timeScale });
  }

  /** t=0: the first phase starts; the server listens now, or (refuse) only once startup is complete. */
  private async listen(): Promise<void> {
    this.runner.start(); // t=0: PHASE TRANSITION -> <first phase>
    try {
      if (this.profile === 'refuse') await this.listenAtReady();
      else {
        await listenOn(this.server, this.listenPort, this.host);
        this.markListening();
      }
    } catch (err) {
      this.runner.stop();
      await this.truth?.close();
      throw err;
    }
  }

  /** refuse: nothing may listen before ready, yet callers need the port now: borrow a free one. */
  private async listenAtReady(): Promise<void> {
    if (this.listenPort === 0) this.listenPort = await pickFreePort(this.host);
    const listenNow = () => {
      if (this.isStopping) return;
      this.server.once('error', (err) => {
        this.listenError = err;
        this.runner.emit('listen_error', err);
        this.settleWaiters();
      });
      this.server.listen({ port: this.listenPort, host: this.host, backlog: SIM_BACKLOG }, () => this.markListening());
    };
    // Ready may already have passed while the port was being picked (tiny plans).
    if (this.flags.ready) listenNow();
    else this.runner.once('ready', listenNow);
  }

  private markListening(): void {
    this.listenPort = (this.server.address() as { port: number }).port;
    this.runner.reach('listening');
  }

  /** Resolves the waiters whose mark was reached; rejects those whose mark can no longer come. */
  private settleWaiters(): void {
    for (const w of [...this.waiters]) {
      const at = this.runner.reached.get(w.mark);
      if (at !== undefined) {
        this.waiters.delete(w);
        w.resolve(at);
        continue;
      }
      const why = this.whyNever(w.mark);
      if (why) {
        this.waiters.delete(w);
        w.reject(new Error(`sim: ${w.mark} will not happen: ${why}`));
      }
    }
  }

  private whyNever(mark: Mark): string | null {
    if (this.isStopping) return 'the simulator was closed';
    if (this.flags.failed) return `startup failed (${this.flags.failReason})`;
    if (mark === 'listening' && this.listenError) return `listen failed (${this.listenError.message})`;
    if (this.runner.finished && mark !== 'listening') return 'startup completed without it';
    return null;
  }

  private async shutdown(): Promise<void> {
    this.isStopping = true;
    this.runner.stop();
    this.upgrades.releaseHeld(); // 503 "Server shutting down" to anything still held
    await this.upgrades.close();
    await closeServer(this.server);
    const at = nowEpochMs();
    this.truth?.write({ type: 'stop', at, atMs: this.sinceT0(at), counts: { ...this.counts }, messages: { ...this.messages } });
    try {
      await this.truth?.close();
    } finally {
      this.settleWaiters();
    }
  }
}

/** Listen on port 0, read the port, close: the refuse profile's port before it may listen. */
function pickFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
