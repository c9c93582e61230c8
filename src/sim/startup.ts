import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { SimProfile } from './config.js';
import type { PhaseLog } from './log.js';
import { BRIDGE_PHASE, type StartupPlan } from './phases.js';
import { round3 } from '../util/round.js';

/**
 * Plays a StartupPlan back on the wall clock: logs each transition, flips the readiness flags
 * the profiles and /health read, and tells listeners. One chained timer walks a sorted event
 * list, and an event is applied only once performance.now() has reached its offset, so a test
 * can rely on "ready fired ⇒ now − t0 ≥ readyAtMs".
 */

export type Mark = 'health_ready' | 'loss_window' | 'bridge_ready' | 'ready' | 'failed' | 'listening';

type Step =
  | { atMs: number; kind: 'transition'; phase: string }
  | { atMs: number; kind: 'completed'; phase: string; durationMs: number }
  | { atMs: number; kind: 'mark'; mark: Exclude<Mark, 'ready' | 'failed' | 'listening'> }
  | { atMs: number; kind: 'ready' }
  | { atMs: number; kind: 'failed'; phase: string; reason: string };

/** When the racy shortcuts happen, derived from the plan (wall ms after t0). */
export interface RaceMarks {
  /** /health turns 200: bridge − raceWindow in racy, startup complete otherwise. */
  healthReadyAtMs?: number;
  /** racy: sockets accepted from here until the bridge is wired lose their first message. */
  lossWindowAtMs?: number;
}

export function raceMarks(plan: StartupPlan, profile: SimProfile, raceWindowMs: number, lossWindowMs: number): RaceMarks {
  if (profile !== 'racy') return plan.readyAtMs === undefined ? {} : { healthReadyAtMs: plan.readyAtMs };
  const bridge = plan.bridgeReadyAtMs;
  if (bridge === undefined || (plan.failed && plan.failAtMs! <= bridge)) return {};
  const scale = plan.timeScale;
  const out: RaceMarks = { healthReadyAtMs: round3(Math.max(0, bridge - raceWindowMs * scale)) };
  if (lossWindowMs > 0) out.lossWindowAtMs = round3(Math.max(0, bridge - lossWindowMs * scale));
  return out;
}

export interface StartupFlags {
  /** Current phase, `ready`, or (when failed) the phase it failed in. */
  phase: string;
  ready: boolean;
  failed: boolean;
  failReason?: string;
  bridgeReady: boolean;
  healthReady: boolean;
  inLossWindow: boolean;
}

/** The longest delay Node's setTimeout keeps (2^31 − 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class StartupRunner extends EventEmitter {
  readonly flags: StartupFlags;
  /** Epoch ms of each mark once reached. */
  readonly reached = new Map<Mark, number>();
  private steps: Step[];
  private next = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    public plan: StartupPlan,
    public marks: RaceMarks,
    private readonly t0Perf: number,
    readonly t0: number,
    private readonly log: PhaseLog,
  ) {
    super();
    this.flags = { phase: plan.phases[0].name, ready: false, failed: false, bridgeReady: false, healthReady: false, inLossWindow: false };
    this.steps = buildSteps(plan, marks);
  }

  /** Wall ms since t0. */
  elapsed(): number {
    return performance.now() - this.t0Perf;
  }

  start(): void {
    this.pump();
  }

  /** A plan not begun yet, moved (the rollout's revision B, started on request); its first step may be due at once. */
  replan(plan: StartupPlan, marks: RaceMarks): void {
    if (this.next > 0) throw new Error('sim: a startup already under way cannot be moved');
    if (this.timer) clearTimeout(this.timer);
    [this.plan, this.marks, this.steps] = [plan, marks, buildSteps(plan, marks)];
    this.pump();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.next = this.steps.length;
  }

  get finished(): boolean {
    return this.next >= this.steps.length;
  }

  /** Used by the server for things that happen off-plan (listen() at ready, listen failure). */
  reach(mark: Mark, atMs = this.elapsed()): void {
    if (this.reached.has(mark)) return;
    this.reached.set(mark, this.t0 + atMs);
    this.emit('mark', mark, atMs);
  }

  fail(phase: string, reason: string, atMs = this.elapsed()): void {
    Object.assign(this.flags, { phase, failed: true, failReason: reason, bridgeReady: false, healthReady: false, inLossWindow: false });
    this.log.failed(reason);
    this.stop();
    this.reach('failed', atMs);
    this.emit('failed', reason, atMs);
  }

  private pump(): void {
    this.timer = null;
    while (this.next < this.steps.length) {
      const step = this.steps[this.next];
      const now = this.elapsed();
      if (now < step.atMs) {
        // Timers can fire a fraction of a millisecond early; come back rather than apply early.
        // (Capped: Node fires a longer timer at once; a step that far off is B's start awaiting a request.)
        this.timer = setTimeout(() => this.pump(), Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(step.atMs - now))));
        return;
      }
      this.next++;
      this.apply(step);
    }
  }

  private apply(step: Step): void {
    switch (step.kind) {
      case 'transition':
        this.flags.phase = step.phase;
        this.log.transition(step.phase);
        this.emit('phase', step.phase, step.atMs);
        break;
      case 'completed':
        this.log.completed(step.phase, step.durationMs);
        break;
      case 'mark':
        if (step.mark === 'bridge_ready') Object.assign(this.flags, { bridgeReady: true, inLossWindow: false });
        if (step.mark === 'health_ready') this.flags.healthReady = true;
        if (step.mark === 'loss_window') this.flags.inLossWindow = true;
        this.reach(step.mark, step.atMs);
        break;
      case 'ready':
        Object.assign(this.flags, { phase: 'ready', ready: true, bridgeReady: true, inLossWindow: false });
        this.log.ready(step.atMs);
        this.emit('phase', 'ready', step.atMs);
        this.reach('ready', step.atMs);
        this.emit('ready', step.atMs);
        break;
      case 'failed':
        this.fail(step.phase, step.reason, step.atMs);
        break;
    }
  }
}

/**
 * The phase steps in plan order (a completion, the bridge mark after the bridge phase, the next
 * transition), then the racy marks merged in after every step at or before their time.
 */
function buildSteps(plan: StartupPlan, marks: RaceMarks): Step[] {
  const steps: Step[] = [];
  const bridgePhase = plan.phaseNames.includes(BRIDGE_PHASE) ? BRIDGE_PHASE : plan.phaseNames[plan.phaseNames.length - 1];
  for (const p of plan.phases) {
    steps.push({ atMs: p.startMs, kind: 'transition', phase: p.name });
    if (p.timedOut) continue;
    steps.push({ atMs: p.endMs, kind: 'completed', phase: p.name, durationMs: p.durationMs });
    if (p.name === bridgePhase) steps.push({ atMs: p.endMs, kind: 'mark', mark: 'bridge_ready' });
  }
  if (plan.failed) steps.push({ atMs: plan.failAtMs!, kind: 'failed', phase: plan.failedPhase!, reason: plan.failReason! });
  else steps.push({ atMs: plan.readyAtMs!, kind: 'ready' });
  const extra: Step[] = [];
  if (marks.lossWindowAtMs !== undefined) extra.push({ atMs: marks.lossWindowAtMs, kind: 'mark', mark: 'loss_window' });
  if (marks.healthReadyAtMs !== undefined) extra.push({ atMs: marks.healthReadyAtMs, kind: 'mark', mark: 'health_ready' });
  extra.sort((a, b) => a.atMs - b.atMs);
  for (const m of extra) {
    const i = steps.findIndex((s) => s.atMs > m.atMs);
    if (i < 0) steps.push(m);
    else steps.splice(i, 0, m);
  }
  return steps;
}
