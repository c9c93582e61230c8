/**
 * The startup model: the backend's seven phases and the arithmetic that decides when each
 * starts, ends, or times out. Everything here is pure so the plan can be tested exactly and
 * the server only has to play it back on a clock.
 *
 * Units: phase durations and timeouts are *model seconds* (the figures published for the real
 * service); every offset in a plan is *wall milliseconds* after t0, i.e. model × timeScale.
 */
import { round3 } from '../util/round.js';

export interface PhaseSpec {
  /** A \w+ name, so log-line timelines can match `PHASE TRANSITION\s+->\s+(\w+)`. */
  name: string;
  /** Model seconds the phase takes when nothing times out. */
  duration: number;
  /** Base timeout in model seconds, before the environment arithmetic; none = never times out. */
  timeout?: number;
}

/** The seed report's environment-aware timeout knobs (staging values by default). */
export interface TimeoutPolicy {
  envMultiplier: number;
  safetyMargin: number;
  /** Cap on any one effective timeout, model seconds. */
  maxTotal: number;
}

/** The staging service's phase durations, model seconds (where they come from: docs/performance.md). */
export const DEFAULT_PHASES: readonly PhaseSpec[] = Object.freeze([
  { name: 'init', duration: 2.415 },
  { name: 'dependencies', duration: 14.084 },
  { name: 'database', duration: 0.747 },
  { name: 'cache', duration: 0.026 },
  { name: 'services', duration: 1.262 },
  { name: 'websocket', duration: 0.531 },
  { name: 'finalize', duration: 0.433 },
]);

/** Issue #586 staging: 0.7× environment, 1.1× safety, 5.0 s cap. */
export const STAGING_TIMEOUT_POLICY: Readonly<TimeoutPolicy> = Object.freeze({ envMultiplier: 0.7, safetyMargin: 1.1, maxTotal: 5.0 });

/** The seed's aggressive staging phase timeouts (base seconds); the `broken` profile uses them. */
export const SEED_STAGING_PHASE_TIMEOUTS: Readonly<Record<string, number>> = Object.freeze({ dependencies: 1.5, services: 1.0 });

/** The phase whose end wires the agent websocket bridge: before it, sockets hit 1011. */
export const BRIDGE_PHASE = 'websocket';

export interface PlannedPhase {
  name: string;
  /** Wall ms after t0. */
  startMs: number;
  /** Wall ms after t0: when it completes, or when its timeout fires if `timedOut`. */
  endMs: number;
  /** endMs − startMs. */
  durationMs: number;
  /** Effective timeout in model seconds (base × env × safety, capped), if the phase has one. */
  effectiveTimeout?: number;
  /** The same in wall ms. */
  timeoutMs?: number;
  timedOut: boolean;
}

export interface StartupPlan {
  timeScale: number;
  /** Every configured phase name in order, including those a failure prevents from starting. */
  phaseNames: string[];
  /** Phases that start, in order; phases after a timed-out one never start and are absent. */
  phases: PlannedPhase[];
  failed: boolean;
  /** Wall ms after t0 when startup fails (the timeout expires). */
  failAtMs?: number;
  failedPhase?: string;
  /** `Phase <name> timed out after <wall secs>s`. */
  failReason?: string;
  /** Wall ms after t0 when the last phase completes; absent if startup fails. */
  readyAtMs?: number;
  /**
   * Wall ms after t0 when the websocket bridge is wired: the end of the `websocket` phase, or
   * of the last phase if there is none. Absent if startup fails before then.
   */
  bridgeReadyAtMs?: number;
  /** Wall ms of the plan's last event (ready or failure). */
  endMs: number;
}

/** Rounds to a microsecond so sums of decimal seconds compare exactly in tests. */
export function roundMs(ms: number): number {
  return round3(ms);
}

/** Effective timeout in model seconds: base × envMultiplier × safetyMargin, capped by maxTotal. */
export function effectiveTimeout(base: number, policy: TimeoutPolicy): number {
  return Math.round(Math.min(base * policy.envMultiplier * policy.safetyMargin, policy.maxTotal) * 1e6) / 1e6;
}

/** Seconds with 3 decimals, the backend's log format. */
export function formatSeconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

export function computePlan(phases: readonly PhaseSpec[], timeScale = 1, policy: TimeoutPolicy = STAGING_TIMEOUT_POLICY): StartupPlan {
  if (!(timeScale > 0)) throw new Error(`timeScale must be positive, got ${timeScale}`);
  if (phases.length === 0) throw new Error('a startup needs at least one phase');
  const planned: PlannedPhase[] = [];
  const phaseNames = phases.map((p) => p.name);
  // Accumulate in model ms and scale each offset, so rounding errors never compound.
  let modelMs = 0;
  const bridgeIndex = indexOfBridge(phases);
  let bridgeReadyAtMs: number | undefined;
  for (let i = 0; i < phases.length; i++) {
    const spec = phases[i];
    const startMs = roundMs(modelMs * timeScale);
    const eff = spec.timeout === undefined ? undefined : effectiveTimeout(spec.timeout, policy);
    const timedOut = eff !== undefined && spec.duration > eff;
    const modelEnd = modelMs + (timedOut ? eff! : spec.duration) * 1000;
    const endMs = roundMs(modelEnd * timeScale);
    planned.push({
      name: spec.name,
      startMs,
      endMs,
      durationMs: roundMs(endMs - startMs),
      ...(eff === undefined ? {} : { effectiveTimeout: eff, timeoutMs: roundMs(eff * 1000 * timeScale) }),
      timedOut,
    });
    if (timedOut) {
      return {
        timeScale,
        phaseNames,
        phases: planned,
        failed: true,
        failAtMs: endMs,
        failedPhase: spec.name,
        failReason: `Phase ${spec.name} timed out after ${formatSeconds(roundMs(eff! * 1000 * timeScale))}s`,
        ...(bridgeReadyAtMs === undefined ? {} : { bridgeReadyAtMs }),
        endMs,
      };
    }
    modelMs = modelEnd;
    if (i === bridgeIndex) bridgeReadyAtMs = endMs;
  }
  const readyAtMs = planned[planned.length - 1].endMs;
  return { timeScale, phaseNames, phases: planned, failed: false, readyAtMs, bridgeReadyAtMs: bridgeReadyAtMs ?? readyAtMs, endMs: readyAtMs };
}

function indexOfBridge(phases: readonly PhaseSpec[]): number {
  const i = phases.findIndex((p) => p.name === BRIDGE_PHASE);
  return i >= 0 ? i : phases.length - 1;
}

/** Where the startup is at `ms` after t0 according to the plan. */
export function phaseAt(plan: StartupPlan, ms: number): { phase: string; state: 'starting' | 'ready' | 'failed' } {
  if (plan.failed && ms >= plan.failAtMs!) return { phase: plan.failedPhase!, state: 'failed' };
  if (!plan.failed && ms >= plan.readyAtMs!) return { phase: 'ready', state: 'ready' };
  for (const p of plan.phases) if (ms < p.endMs) return { phase: p.name, state: 'starting' };
  return { phase: plan.phases[plan.phases.length - 1].name, state: 'starting' };
}

/**
 * Components that the backend reports as "not ready", keyed by the phase whose completion
 * makes them ready. Order is the order they are listed in the close reason (the bridge first,
 * as the real service does). Components whose phase is not in the plan are ignored.
 */
export const COMPONENTS: readonly { name: string; readyAfter: string }[] = Object.freeze([
  { name: 'websocket_bridge', readyAfter: 'websocket' },
  { name: 'agent_supervisor', readyAfter: 'services' },
  { name: 'redis', readyAfter: 'cache' },
  { name: 'database', readyAfter: 'database' },
  { name: 'llm_manager', readyAfter: 'dependencies' },
]);

/**
 * Components still missing while `currentPhase` runs (every phase before it has completed);
 * never empty, since it is only asked before the bridge is wired.
 */
export function missingComponents(phaseNames: readonly string[], currentPhase: string): string[] {
  const at = phaseNames.indexOf(currentPhase);
  const done = new Set(at < 0 ? phaseNames : phaseNames.slice(0, at));
  const missing = COMPONENTS.filter((c) => phaseNames.includes(c.readyAfter) && !done.has(c.readyAfter)).map((c) => c.name);
  return missing.length > 0 ? missing : ['websocket_bridge'];
}
