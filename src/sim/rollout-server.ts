import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { resolveSimOptions, type ResolvedSimOptions, type SimOptions } from './config.js';
import { answerHttp } from './health.js';
import { PhaseLog } from './log.js';
import { computePlan, type StartupPlan } from './phases.js';
import { readyFlags, Revision, type RevisionSink } from './revision.js';
import { drainClose, drainOffset, planRollout, rolloutMarks, shiftPlan, type RolloutPlan } from './rollout.js';
import type { SimHandle, SimState } from './server.js';
import { raceMarks, StartupRunner, type Mark, type RaceMarks } from './startup.js';
import { planOfTruth, recordStartup } from './startup-truth.js';
import { warmDelay, warmOf, type Warm } from './stream.js';
import { nowEpochMs, TruthWriter } from './truth.js';
import { TIME_ORIGIN } from '../util/clock.js';
import { closeServer, httpUrl, listenOn, wsUrl } from './address.js';
import { pathOf } from './upgrade.js';
import { clockOrigin } from './origin.js';
import { round3 } from '../util/round.js';
import { sumCounts } from '../util/counts.js';

/** Where a deploy trigger starts revision B with --rollout-on-request. */
export const ROLLOUT_PATH = '/_sim/rollout';
/** B's start before it is asked for: never (wall ms after t0, ~30 years). */
const NOT_YET_MS = 1e12;

/**
 * The rollout profile: one port (the platform's router) in front of two revisions. A is ready
 * from the start; B cold-starts at rollout-at with the `--new` profile. New upgrades and /health
 * go to whichever revision serves (rollout.ts decides when traffic moves); once A is told to
 * drain it closes its sockets one by one over drain-over. Its `plan` and `marks` are B's, on the
 * simulator's clock (t0 = this process's start).
 */
export class RolloutSimulator implements SimHandle, RevisionSink {
  readonly profile = 'rollout' as const;
  readonly host: string;
  readonly path: string;
  /** B's, and what follows from it (scheduleB sets them); moved once when B starts on request (--rollout-on-request). */
  plan!: StartupPlan;
  marks!: RaceMarks;
  warm!: Warm | null;
  rollout!: RolloutPlan;
  /** B's clock; also where 'conn', 'msg', 'drop', 'held', 'switch', 'drain_close' and 'drained' are told. */
  readonly events: StartupRunner;
  readonly a: Revision;
  readonly b: Revision;
  private readonly runner: StartupRunner;
  private readonly truth: TruthWriter | null;
  private readonly server: Server;
  private switched = false;
  /** With --rollout-on-request: B's start was asked for. */
  private requested = false;
  /**
   * With --processes: a request reached this process `atMs` after t0; resolves with B's start (the
   * first request's, whichever process it reached) and whether this was it (sim-process.ts asks the
   * primary). Unset: this process decides alone.
   */
  askRollout?: (atMs: number) => Promise<{ atMs: number; first: boolean }>;
  private closes = 0;
  private drainTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private isStopping = false;
  private listenPort: number;

  static async start(options: SimOptions): Promise<RolloutSimulator> {
    const { t0Perf, t0 } = clockOrigin(options.t0, TIME_ORIGIN, performance.now());
    const sim = new RolloutSimulator(resolveSimOptions(options), new PhaseLog(options.log === undefined ? process.stdout : options.log), t0Perf, t0);
    await sim.listen();
    return sim;
  }

  private constructor(
    readonly options: ResolvedSimOptions,
    private readonly log: PhaseLog,
    private readonly t0Perf: number,
    readonly t0: number,
  ) {
    const o = options;
    this.host = o.host;
    this.path = o.path;
    this.listenPort = o.port;
    this.scheduleB(o.rolloutOnRequest ? NOT_YET_MS : this.wall(o.rolloutAtMs));
    this.runner = this.events = new StartupRunner(this.plan, this.marks, t0Perf, t0, log);
    this.truth = o.truth ? new TruthWriter(o.truth) : null;
    this.a = new Revision('A', { ...o, profile: 'gated' }, readyFlags(), ['ready'], this, () => this.wall(o.oldReplyDelayMs));
    this.b = new Revision('B', { ...o, profile: o.newProfile }, this.runner.flags, this.plan.phaseNames, this, (at) => (this.warm === null ? 0 : warmDelayAt(this.warm, at)));
    this.writeStart();
    this.server = createServer((req, res) => this.answerHttp(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.serving().upgrades.handle(req, socket, head));
    const releaseHeld = () => this.b.upgrades.releaseHeld();
    this.runner.on('ready', releaseHeld);
    this.runner.on('failed', releaseHeld);
    if (o.strategy === 'recreate') this.runner.once('phase', () => this.switchTraffic());
    else this.runner.on('mark', (mark: Mark) => mark === 'health_ready' && this.switchTraffic());
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    return wsUrl(this.host, this.listenPort, this.path);
  }

  get httpUrl(): string {
    return httpUrl(this.host, this.listenPort);
  }

  /** B's startup, both revisions' sockets, which one serves, and how many of A's sockets it closed. */
  state(): SimState {
    const f = this.runner.flags;
    return {
      profile: 'rollout',
      phase: this.b.phaseLabel(),
      ...(f.failed ? { failedPhase: f.phase, failReason: f.failReason } : {}),
      ready: f.ready,
      failed: f.failed,
      bridgeReady: f.bridgeReady,
      healthy: !f.failed && (f.healthReady || f.ready),
      inLossWindow: f.inLossWindow,
      listening: this.server.listening,
      elapsedMs: this.runner.elapsed(),
      openSockets: this.a.upgrades.open.size + this.b.upgrades.open.size,
      heldUpgrades: this.b.upgrades.held.size,
      counts: sumCounts(this.a.counts, this.b.counts),
      messages: sumCounts(this.a.messages, this.b.messages),
      serving: this.switched ? 'B' : 'A',
      drainCloses: this.closes,
    };
  }

  /** Model ms as wall ms at this time scale (to the µs). */
  private wall(modelMs: number): number {
    return round3(modelMs * this.options.timeScale);
  }

  /** Sets B's cold start from `atMs` (wall ms after t0): its plan, race marks, warm-up, and when traffic moves and A drains. */
  private scheduleB(atMs: number): void {
    const o = this.options;
    const plan = shiftPlan(computePlan(o.phases, o.timeScale, { envMultiplier: o.envMultiplier, safetyMargin: o.safetyMargin, maxTotal: o.maxTotal }), atMs);
    const marks = rolloutMarks(raceMarks(plan, o.newProfile, o.raceWindowMs, o.lossWindowMs), atMs);
    [this.plan, this.marks] = [plan, marks];
    this.rollout = planRollout(o.strategy, atMs, marks, o.drain, this.wall(o.drainOverMs));
    this.warm = warmOf({ ...o, profile: o.newProfile }, plan, this.t0);
  }

  /**
   * `POST /_sim/rollout` (--rollout-on-request): B's cold start begins now, as a deploy trigger
   * would start it. Once: null when it was already asked for, or B does not wait for a request.
   */
  rolloutNow(): RolloutPlan | null {
    return this.rolloutAt(round3(this.runner.elapsed()));
  }

  /**
   * B's cold start from `atMs` (wall ms after the shared t0): what rolloutNow does with the moment
   * another simulator process of `--processes` was asked (the primary passes it on). Once.
   */
  rolloutAt(atMs: number): RolloutPlan | null {
    if (this.rolloutRefusal() !== null) return null;
    this.requested = true;
    const at = nowEpochMs();
    this.scheduleB(atMs);
    // The line first: replan applies B's first step (and with recreate, the switch) at once.
    this.write({ type: 'rollout', at, atMs: this.sinceT0(at), plan: planOfTruth(this.plan, this.marks, this.warm), rollout: this.rollout });
    this.runner.replan(this.plan, this.marks);
    return this.rollout;
  }

  /** Why a request to start B is refused now, or null when it would start it. */
  private rolloutRefusal(): string | null {
    if (!this.options.rolloutOnRequest) return 'revision B starts at --rollout-at; start the simulator with --rollout-on-request to start it by request';
    if (this.isStopping) return 'the simulator is stopping';
    return this.requested ? 'revision B was already started' : null;
  }

  /** B's marks, as Simulator.until; also rejects on close or when B's startup ended without the mark. */
  until(mark: Mark, timeoutMs = 30_000): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const check = () => {
        const at = this.runner.reached.get(mark);
        const never = this.isStopping ? 'the simulator was closed' : this.runner.finished && mark !== 'listening' ? 'startup ended without it' : null;
        if (at === undefined && never === null) return;
        clearTimeout(timer);
        this.runner.off('mark', check).off('stopped', check);
        if (at !== undefined) resolve(at);
        else reject(new Error(`sim: ${mark} will not happen: ${never}`));
      };
      const timer = setTimeout(() => (this.runner.off('mark', check).off('stopped', check), reject(new Error(`sim: timed out after ${timeoutMs} ms waiting for ${mark}`))), timeoutMs);
      this.runner.on('mark', check).on('stopped', check);
      check();
    });
  }

  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  // ---- RevisionSink -------------------------------------------------------------------------
  stopping(): boolean {
    return this.isStopping;
  }

  sinceT0(at: number): number {
    return round3(at - this.t0);
  }

  write(line: object): void {
    this.truth?.write(line);
  }

  emit(event: string, ...args: unknown[]): void {
    this.runner.emit(event, ...args);
  }

  // ---- the rollout --------------------------------------------------------------------------
  private serving(): Revision {
    return this.switched ? this.b : this.a;
  }

  /** Traffic moves to B; A starts draining the sockets it has, in the order it accepted them. */
  private switchTraffic(): void {
    if (this.switched || this.isStopping) return;
    this.switched = true;
    const sockets = [...this.a.upgrades.accepted];
    this.markLine('switch', { sockets: sockets.length });
    this.emit('switch', sockets.length);
    const startPerf = performance.now();
    let next = 0;
    const pump = () => {
      this.drainTimer = null;
      while (next < sockets.length) {
        const wait = startPerf + drainOffset(next, sockets.length, this.rollout.drainOverMs) - performance.now();
        if (wait > 0) {
          this.drainTimer = setTimeout(pump, Math.max(1, Math.ceil(wait)));
          return;
        }
        const [ws, who] = sockets[next++];
        this.drainOne(ws, who);
      }
      this.markLine('drained', { closes: this.closes });
      this.emit('drained', this.closes);
    };
    pump();
  }

  /** Closes one of A's sockets the chosen way, unless it already closed on its own; one truth `close` line each. */
  private drainOne(ws: WebSocket, who: { connId: string; remote: string }): void {
    if (ws.readyState !== ws.OPEN) return;
    const how = drainClose(this.rollout.drain);
    const at = nowEpochMs();
    const line = { type: 'close', rev: 'A', at, atMs: this.sinceT0(at), connId: who.connId, remote: who.remote, phase: this.b.phaseLabel(), ...(how.kind === 'cut' ? { cut: true } : { code: how.code, reason: how.reason }) };
    this.closes++;
    this.write(line);
    this.emit('drain_close', line);
    if (how.kind === 'cut') ws.terminate();
    else ws.close(how.code, how.reason);
  }

  private markLine(mark: string, extra: object): void {
    const at = nowEpochMs();
    this.write({ type: 'mark', mark, at, atMs: this.sinceT0(at), ...extra });
  }

  // ---- plumbing -----------------------------------------------------------------------------
  private writeStart(): void {
    const { t0, options: o } = this;
    this.write({ type: 'start', at: t0, atMs: 0, t0, profile: 'rollout', newProfile: o.newProfile, timeScale: o.timeScale, path: o.path, plan: planOfTruth(this.plan, this.marks, this.warm), rollout: this.rollout });
    this.write({ type: 'phase', rev: 'A', phase: 'ready', at: t0, atMs: 0, plannedMs: 0 });
    if (this.truth) recordStartup(this.runner, (line) => this.write(line), (at) => this.sinceT0(at), { rev: 'B' });
  }

  /** /health answers for the revision that serves: the platform's URL. `/_sim/rollout` is the simulator's own (the deploy's trigger). */
  private answerHttp(req: IncomingMessage, res: ServerResponse): void {
    const pathname = pathOf(req);
    if (pathname === ROLLOUT_PATH) return this.answerRollout(req, res);
    const rev = this.serving();
    const elapsedS = () => (performance.now() - this.t0Perf - this.rollout.rolloutAtMs) / 1000 / this.options.timeScale;
    answerHttp(req, res, pathname, this.path, { flags: rev.flags, slowStartupAfter: this.options.slowStartupAfter, modelElapsedS: rev === this.a ? () => 0 : elapsedS });
  }

  private answerRollout(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const answer = (status: number, body: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method !== 'POST') return void answer(405, { error: `POST ${ROLLOUT_PATH} starts revision B` });
    const refusal = this.rolloutRefusal();
    if (refusal !== null) return void answer(409, { error: refusal });
    if (!this.askRollout) return void answer(202, { rolloutAtMs: this.rolloutNow()!.rolloutAtMs });
    void this.askRollout(round3(this.runner.elapsed())).then(({ atMs, first }) => {
      this.rolloutAt(atMs); // already started when the primary's word came first
      if (first) answer(202, { rolloutAtMs: atMs });
      else answer(409, { error: 'revision B was already started' });
    });
  }

  /** A is up and ready at t=0 (it logs so); B's clock runs from here and starts its phases at rollout-at. */
  private async listen(): Promise<void> {
    this.log.ready(0);
    this.runner.start();
    try {
      await listenOn(this.server, this.listenPort, this.host);
    } catch (err) {
      this.runner.stop();
      await this.truth?.close();
      throw err;
    }
    this.listenPort = (this.server.address() as { port: number }).port;
    this.runner.reach('listening');
  }

  private async shutdown(): Promise<void> {
    this.isStopping = true;
    this.runner.stop();
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.b.upgrades.releaseHeld();
    await Promise.all([this.a.upgrades.close(), this.b.upgrades.close()]);
    await closeServer(this.server);
    const at = nowEpochMs();
    const s = this.state();
    this.write({ type: 'stop', at, atMs: this.sinceT0(at), counts: s.counts, messages: s.messages, closes: this.closes });
    await this.truth?.close();
    this.runner.emit('stopped'); // until() waiters reject
  }
}

function warmDelayAt(warm: Warm, at: number): number {
  return warmDelay(at - warm.readyAt, warm.delayMs, warm.ms);
}
