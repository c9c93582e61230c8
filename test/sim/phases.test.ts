import { describe, expect, it } from 'vitest';
import {
  computePlan,
  decideUpgrade,
  DEFAULT_PHASES,
  effectiveTimeout,
  healthBody,
  missingComponents,
  notReadyReason,
  phaseAt,
  raceMarks,
  SEED_STAGING_PHASE_TIMEOUTS,
  STAGING_TIMEOUT_POLICY,
  type StartupFlags,
} from '../../src/sim/index.js';

const offsets = (plan: ReturnType<typeof computePlan>) => plan.phases.map((p) => [p.name, p.startMs, p.endMs]);

describe('startup plan', () => {
  it('lays the staging phases end to end at real speed', () => {
    const plan = computePlan(DEFAULT_PHASES, 1);
    expect(offsets(plan)).toEqual([
      ['init', 0, 2415],
      ['dependencies', 2415, 16499],
      ['database', 16499, 17246],
      ['cache', 17246, 17272],
      ['services', 17272, 18534],
      ['websocket', 18534, 19065],
      ['finalize', 19065, 19498],
    ]);
    expect(plan.failed).toBe(false);
    expect(plan.bridgeReadyAtMs).toBe(19065);
    expect(plan.readyAtMs).toBe(19498);
    expect(plan.phases.map((p) => p.durationMs)).toEqual([2415, 14084, 747, 26, 1262, 531, 433]);
  });

  it('scales every offset by timeScale (0.1 ⇒ ~2 s)', () => {
    const plan = computePlan(DEFAULT_PHASES, 0.1);
    expect(offsets(plan)).toEqual([
      ['init', 0, 241.5],
      ['dependencies', 241.5, 1649.9],
      ['database', 1649.9, 1724.6],
      ['cache', 1724.6, 1727.2],
      ['services', 1727.2, 1853.4],
      ['websocket', 1853.4, 1906.5],
      ['finalize', 1906.5, 1949.8],
    ]);
    expect(plan.readyAtMs).toBe(1949.8);
    expect(plan.bridgeReadyAtMs).toBe(1906.5);
  });

  it('computes effective timeouts as base × env × safety, capped by maxTotal', () => {
    expect(effectiveTimeout(1.5, STAGING_TIMEOUT_POLICY)).toBe(1.155);
    expect(effectiveTimeout(1.4, STAGING_TIMEOUT_POLICY)).toBe(1.078);
    expect(effectiveTimeout(1.0, STAGING_TIMEOUT_POLICY)).toBe(0.77);
    expect(effectiveTimeout(10, STAGING_TIMEOUT_POLICY)).toBe(5);
    expect(effectiveTimeout(3, { envMultiplier: 1.5, safetyMargin: 1, maxTotal: 2 })).toBe(2); // Cloud Run ×1.5 capped at 2.0
  });

  it('fails dependencies 1.155 s after it starts with the seed staging timeout', () => {
    const phases = DEFAULT_PHASES.map((p) => (p.name === 'dependencies' ? { ...p, timeout: 1.5 } : p));
    const plan = computePlan(phases, 1);
    expect(plan.failed).toBe(true);
    expect(plan.failedPhase).toBe('dependencies');
    expect(plan.failAtMs).toBe(2415 + 1155);
    expect(plan.failReason).toBe('Phase dependencies timed out after 1.155s');
    expect(plan.readyAtMs).toBeUndefined();
    expect(plan.bridgeReadyAtMs).toBeUndefined();
    expect(plan.phases.map((p) => p.name)).toEqual(['init', 'dependencies']);
    expect(plan.phases[1]).toMatchObject({ startMs: 2415, endMs: 3570, durationMs: 1155, effectiveTimeout: 1.155, timeoutMs: 1155, timedOut: true });
    expect(plan.phaseNames).toHaveLength(7);

    const fast = computePlan(phases, 0.1);
    expect(fast.failAtMs).toBe(357);
    const slower = computePlan(phases.map((p) => (p.name === 'dependencies' ? { ...p, timeout: 1.4 } : p)), 1);
    expect(slower.failReason).toBe('Phase dependencies timed out after 1.078s');
  });

  it('lets a phase that finishes inside its timeout pass, and fails the first phase that does not', () => {
    const ok = computePlan(DEFAULT_PHASES.map((p) => (p.name === 'services' ? { ...p, timeout: 2 } : p)), 1);
    expect(ok.failed).toBe(false);
    expect(ok.phases[4]).toMatchObject({ name: 'services', effectiveTimeout: 1.54, timedOut: false, endMs: 18534 });
    const seed = computePlan(DEFAULT_PHASES.map((p) => ({ ...p, timeout: SEED_STAGING_PHASE_TIMEOUTS[p.name] })), 1);
    expect(seed.failedPhase).toBe('dependencies');
  });

  it('uses the last phase as the bridge when there is no websocket phase', () => {
    const plan = computePlan([{ name: 'boot', duration: 1 }, { name: 'warm', duration: 0.5 }], 1);
    expect(plan.bridgeReadyAtMs).toBe(1500);
    expect(plan.readyAtMs).toBe(1500);
  });

  it('reports where the startup is at any offset', () => {
    const plan = computePlan(DEFAULT_PHASES, 1);
    expect(phaseAt(plan, 0)).toEqual({ phase: 'init', state: 'starting' });
    expect(phaseAt(plan, 2415)).toEqual({ phase: 'dependencies', state: 'starting' });
    expect(phaseAt(plan, 19064.9)).toEqual({ phase: 'websocket', state: 'starting' });
    expect(phaseAt(plan, 19498)).toEqual({ phase: 'ready', state: 'ready' });
    const broken = computePlan([{ name: 'init', duration: 1 }, { name: 'dependencies', duration: 14, timeout: 1.5 }], 1);
    expect(phaseAt(broken, 2155)).toEqual({ phase: 'dependencies', state: 'failed' });
  });

  it('rejects nonsense', () => {
    expect(() => computePlan([], 1)).toThrow(/at least one phase/);
    expect(() => computePlan(DEFAULT_PHASES, 0)).toThrow(/timeScale/);
  });
});

describe('racy marks', () => {
  it('puts /health 200 raceWindow before the bridge and the loss window lossWindow before it', () => {
    const plan = computePlan(DEFAULT_PHASES, 0.1);
    expect(raceMarks(plan, 'racy', 300, 200)).toEqual({ healthReadyAtMs: 1876.5, lossWindowAtMs: 1886.5 });
    expect(raceMarks(plan, 'racy', 300, 0)).toEqual({ healthReadyAtMs: 1876.5 });
    expect(raceMarks(plan, 'gated', 300, 200)).toEqual({ healthReadyAtMs: 1949.8 });
    expect(raceMarks(plan, 'racy', 1e9, 1e9)).toEqual({ healthReadyAtMs: 0, lossWindowAtMs: 0 });
    const broken = computePlan(DEFAULT_PHASES.map((p) => ({ ...p, timeout: SEED_STAGING_PHASE_TIMEOUTS[p.name] })), 0.1);
    expect(raceMarks(broken, 'racy', 300, 200)).toEqual({});
    expect(raceMarks(broken, 'broken', 300, 200)).toEqual({});
  });
});

describe('not-ready components', () => {
  const names = DEFAULT_PHASES.map((p) => p.name);
  it('lists what the current phase has not built yet, bridge first', () => {
    expect(missingComponents(names, 'init')).toEqual(['websocket_bridge', 'agent_supervisor', 'redis', 'database', 'llm_manager']);
    expect(missingComponents(names, 'cache')).toEqual(['websocket_bridge', 'agent_supervisor', 'redis']);
    expect(missingComponents(names, 'services')).toEqual(['websocket_bridge', 'agent_supervisor']);
    expect(missingComponents(names, 'websocket')).toEqual(['websocket_bridge']);
    expect(missingComponents(['boot'], 'boot')).toEqual(['websocket_bridge']);
  });

  it('keeps the close reason within 123 bytes', () => {
    expect(notReadyReason(['websocket_bridge', 'agent_supervisor'])).toBe('Service not ready: websocket_bridge, agent_supervisor');
    const long = notReadyReason(Array.from({ length: 20 }, (_, i) => `component_number_${i}`));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(123);
    expect(long.startsWith('Service not ready: component_number_0, ')).toBe(true);
    expect(Buffer.byteLength(notReadyReason(['x'.repeat(200)]))).toBe(123);
  });
});

describe('upgrade decisions', () => {
  const flags = (over: Partial<StartupFlags>): StartupFlags => ({ phase: 'init', ready: false, failed: false, bridgeReady: false, healthReady: false, inLossWindow: false, ...over });
  const ctx = { missing: () => ['websocket_bridge'], active: 0, maxConnections: 10 };
  it('covers each profile before and after ready', () => {
    expect(decideUpgrade('racy', flags({}), ctx)).toEqual({ action: 'close_1011', code: 1011, reason: 'Service not ready: websocket_bridge' });
    expect(decideUpgrade('racy', flags({ inLossWindow: true }), ctx)).toEqual({ action: 'accept', lossy: true });
    expect(decideUpgrade('racy', flags({ bridgeReady: true }), ctx)).toEqual({ action: 'accept', lossy: false });
    expect(decideUpgrade('gated', flags({}), ctx)).toMatchObject({ action: 'http_503', retryAfter: 1 });
    expect(decideUpgrade('gated', flags({ ready: true }), ctx)).toEqual({ action: 'accept', lossy: false });
    expect(decideUpgrade('queued', flags({}), ctx)).toEqual({ action: 'hold' });
    expect(decideUpgrade('broken', flags({ failed: true, failReason: 'x' }), ctx)).toEqual({ action: 'http_503', status: 503, reason: 'Startup failed: x' });
    expect(decideUpgrade('racy', flags({ bridgeReady: true }), { ...ctx, active: 10 })).toMatchObject({ action: 'rejected_capacity' });
  });
});

describe('health body', () => {
  const view = (over: Partial<StartupFlags>, elapsed = 1) => ({
    flags: { phase: 'services', ready: false, failed: false, bridgeReady: false, healthReady: false, inLossWindow: false, ...over },
    modelElapsedS: () => elapsed,
    slowStartupAfter: 300,
  });
  it('matches the backend while starting, failed, slow and ready', () => {
    expect(healthBody(view({}))).toEqual({
      status: 503,
      body: { status: 'unhealthy', message: 'Startup in progress', startup_in_progress: true, details: { phase: 'services' } },
    });
    expect(healthBody(view({}, 301)).body.message).toBe('Startup taking too long - possible timeout');
    expect(healthBody(view({ failed: true, failReason: 'Phase dependencies timed out after 1.155s', phase: 'dependencies' }))).toEqual({
      status: 503,
      body: { status: 'unhealthy', message: 'Startup failed: Phase dependencies timed out after 1.155s', startup_failed: true, details: { phase: 'dependencies' } },
    });
    expect(healthBody(view({ ready: true, phase: 'ready' }))).toEqual({ status: 200, body: { status: 'healthy', details: { phase: 'ready' } } });
  });
});
