import type { Totals } from '../record/totals.js';
import { failureCount } from '../record/totals.js';
import type { AfterReadyFailure, Attribution } from '../timeline/phase-report.js';
import type { HealthSummary } from '../timeline/health-spans.js';
import type { PhaseSpan } from '../timeline/types.js';
import { populationFindings, type PopulationFindingsInput } from './population-findings.js';
import { messageDetails, messageRace, messageSendLag } from './message-findings.js';
import type { MessagesSummary } from './summary.js';

export interface FindingsInput extends Partial<Omit<PopulationFindingsInput, 'timeline'>> {
  totals: Totals;
  attribution: Attribution | null;
  ready: { atMs: number | null; source: string | null; signals: { health: number | null; log: number | null; supplied: number | null } };
  timeline: PhaseSpan[];
  health: HealthSummary | null;
  failed: { atMs: number; reason: string | null; phase: string | null } | null;
  targetExit: { code: number | null; signal: string | null; atMs: number } | null;
  triggerExit?: { code: number | null; signal: string | null; atMs: number; launchedAtMs: number | null };
  triggerRunning?: { launchedAtMs: number };
  scheduleLagP99: number | null;
  /** The workers' nice asked for with `--nice` (summary.schedule.nice); null or absent: not asked. */
  niceAsked?: number | null;
  /** Worker event-loop delay p99 (ms); null or absent: not measured (older runs). */
  loopDelayP99?: number | null;
  hasTimelineSource: boolean;
  interruptedBy: string | null;
  workers?: { worker: number; error: string | null }[];
  limits?: { openFiles: number | null; maxSockets: number } | null;
  /** summary.messages (session.stream), with the phase blocks filled in; absent without a stream. */
  messages?: MessagesSummary | null;
}

/** A worker loop late by more than this at p99 makes its own latencies suspect. */
export const LOOP_DELAY_WARN_MS = 10;

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const signed = (ms: number) => {
  const r = Math.round(ms / 10) / 100;
  return `${r >= 0 ? '+' : '−'}${Math.abs(r).toFixed(2)} s`;
};
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function describeFailure(f: AfterReadyFailure): string {
  const reasons = f.reasons.length ? ` \`${f.reasons.join('`, `')}\`` : '';
  if (f.key.startsWith('close ')) return `closed ${f.key.slice(6)}${reasons}`;
  if (f.key.startsWith('http ')) return `were rejected with HTTP ${f.key.slice(5)}`;
  switch (f.key) {
    case 'refused': return 'were refused (nothing listening)';
    case 'reset': return 'were reset before the upgrade';
    case 'handshake_timeout': return 'timed out in the handshake';
    case 'expect_timeout': return 'opened but never got the expected message';
    default: return `failed with ${f.key}`;
  }
}

function failureMix(t: Totals): string {
  const parts: string[] = [];
  for (const [code, n] of Object.entries(t.closeCodes)) if (code !== '1000') parts.push(`${code} ×${n}`);
  for (const [status, n] of Object.entries(t.httpStatus)) parts.push(`HTTP ${status} ×${n}`);
  for (const [kind, n] of Object.entries(t.errors)) if (n > 0 && kind !== 'interrupted') parts.push(`${kind} ×${n}`);
  if (t.dropped) parts.push(`dropped ×${t.dropped}`);
  return parts.join(', ');
}

/** Plain sentences, most important first, each with its numbers (pure). */
export function findings(input: FindingsInput): string[] {
  const { totals, ready } = input;
  const readySource = ready.source === 'health' ? '/health' : ready.source === 'log' ? 'the log' : ready.source ?? 'the target';
  const out = [
    ...generatorLimits(input),
    ...afterReadyFailures(input, readySource),
    ...populationFindings(input),
    ...messageRace(input.messages),
    ...startupFailure(input),
    ...outage(input),
    ...aroundReady(input),
    ...messageDetails(input.messages, input.attribution?.messages?.afterReady),
    ...readiness(input, readySource),
    ...targetAndWorkers(input),
    ...runQuality(input),
  ];
  const allWorked = totals.attempted > 0 && failureCount(totals) === 0 && totals.errors.interrupted === 0;
  if (allWorked && !out.some((x) => x.startsWith('all '))) out.unshift(`all ${totals.attempted} connections worked`);
  if (totals.errors.interrupted > 0 && !input.interruptedBy) {
    out.push(`${plural(totals.errors.interrupted, 'attempt')} still in progress at the end of the drain time were cut (errors.interrupted)`);
  }
  return out;
}

/** Failures after the target said it was ready: the race this tool exists to find (the three largest). */
function afterReadyFailures({ attribution: attr, ready }: FindingsInput, readySource: string): string[] {
  if (!attr || ready.atMs === null) return [];
  const atMs = ready.atMs;
  return attr.afterReadyFailures
    .slice(0, 3)
    .map((f) => `${plural(f.count, 'connection')} ${describeFailure(f)} after ${readySource} reported ready at ${signed(atMs)} (${signed(f.fromMs)} to ${signed(f.toMs)} after it): readiness is signalled before WebSockets work`);
}

function startupFailure({ failed: f }: FindingsInput): string[] {
  return f ? [`startup failed${f.phase ? ` in phase ${f.phase}` : ''} at ${signed(f.atMs)}${f.reason ? ` (${f.reason})` : ''}`] : [];
}

/** How long no WebSocket worked, and how long 503 answered every upgrade. */
function outage(input: FindingsInput): string[] {
  const { attribution: attr, totals, ready } = input;
  if (!attr || totals.attempted === 0) return [];
  const out: string[] = [];
  const o = attr.outage;
  const never2xx = input.health && input.health.first2xxMs === null;
  if (o.firstSuccessMs === null) {
    out.push(
      `no WebSocket connection worked in the whole run (${s(o.longestNoSuccessMs)} of attempts)${never2xx ? '; /health never returned 2xx' : ''}${input.failed?.phase ? `; startup failed in phase ${input.failed.phase}` : ''}`,
    );
  } else if (o.longestNoSuccessMs > 0 && o.noSuccessFromMs !== null && o.noSuccessToMs !== null) {
    out.push(`no WebSocket connection worked for ${s(o.longestNoSuccessMs)} (attempts scheduled ${signed(o.noSuccessFromMs)} to ${signed(o.noSuccessToMs)}); the first worked at ${signed(o.firstSuccessMs)}${ready.atMs !== null ? `, ${signed(o.firstSuccessMs - ready.atMs)} from ready` : ''}`);
  }
  if (o.longest503Ms > 0) out.push(`HTTP 503 answered every upgrade for ${s(o.longest503Ms)} in a row`);
  return out;
}

/** What failed before ready (and in which phases), and whether everything after it worked. */
function aroundReady({ attribution: attr, ready }: FindingsInput): string[] {
  if (!attr || ready.atMs === null) return [];
  const out: string[] = [];
  const before = attr.beforeReady;
  const failedBefore = failureCount(before);
  if (failedBefore > 0) {
    const phases = Object.entries(attr.phases)
      .filter(([p, b]) => p !== 'ready' && p !== 'failed' && failureCount(b) > 0)
      .map(([p]) => p);
    out.push(`${plural(failedBefore, 'connection')} of ${before.attempted} failed before ready (${failureMix(before)})${phases.length ? ` in ${phases.join(', ')}` : ''}`);
  }
  const after = attr.afterReady;
  if (after.attempted > 0 && failureCount(after) === 0 && after.errors.interrupted === 0) out.push(`all ${after.attempted} connections after ready worked`);
  return out;
}

/** When the target said it was ready, by which signals, and what /health answered. */
function readiness(input: FindingsInput, readySource: string): string[] {
  const { ready } = input;
  const out: string[] = [];
  if (ready.atMs !== null) {
    out.push(`${readySource} reported ready at ${signed(ready.atMs)}`);
  } else if (input.hasTimelineSource) {
    out.push('the target never reported ready during the run');
  }
  const signals = Object.entries(ready.signals).filter(([, v]) => v !== null) as [string, number][];
  if (signals.length > 1) out.push(`readiness by source: ${signals.map(([k, v]) => `${k} ${signed(v)}`).join(', ')}`);
  if (input.health) {
    const h = input.health;
    out.push(
      `/health ${h.firstAnswerMs === null ? 'never answered' : `first answered at ${signed(h.firstAnswerMs)}`}${h.first2xxMs === null ? ', never with 2xx' : `, first 2xx at ${signed(h.first2xxMs)}`} (${plural(h.probes, 'probe')})`,
    );
  }
  return out;
}

function targetAndWorkers({ targetExit: e, triggerExit: t, triggerRunning: running, workers, totals }: FindingsInput): string[] {
  const out: string[] = [];
  if (e) out.push(`target exited ${e.signal ? `on ${e.signal}` : `with code ${e.code}`} at ${signed(e.atMs)}`);
  if (t && (t.code !== 0 || t.signal)) {
    const after = t.launchedAtMs === null ? '' : `, ${s(t.atMs - t.launchedAtMs)} after its launch`;
    out.push(`the trigger (target.trigger) ${t.signal ? `was killed by ${t.signal}` : `exited with code ${t.code}`} at ${signed(t.atMs)}${after}: the deploy may not have happened; its output is in trigger.log`);
  }
  // A deploy that outlasts the run (a rollout of minutes against a run of one) left its end, and what came after, out of it.
  if (running) out.push(`the trigger (target.trigger), launched at ${signed(running.launchedAtMs)}, was still running when the run stopped watching it: whether and when the deploy finished is not in this run (a longer load.duration or stages would cover it); it goes on, its output in trigger.log`);
  for (const w of workers ?? []) {
    if (w.error) out.push(`worker thread ${w.worker} failed (${w.error}); its ${plural(totals.errors.lost ?? 0, 'unfinished attempt')} counted as lost: the result is degraded`);
  }
  return out;
}

/** Limits of the machine wsrace ran on, not of the target: they go first, as they void the rest. */
function generatorLimits({ totals, limits }: FindingsInput): string[] {
  const out: string[] = [];
  const eaddr = totals.errorCodes.EADDRNOTAVAIL ?? 0;
  if (eaddr > 0) {
    out.push(
      `${plural(eaddr, 'attempt')} failed with EADDRNOTAVAIL: this machine ran out of ephemeral ports toward the target (about 28k per source address) — a limit of the generator, not the target. Widen net.ipv4.ip_local_port_range, use more source addresses, or split the run into shards on more machines`,
    );
  }
  const emfile = (totals.errorCodes.EMFILE ?? 0) + (totals.errorCodes.ENFILE ?? 0);
  if (emfile > 0) {
    const limit = limits?.openFiles;
    out.push(
      `${plural(emfile, 'attempt')} failed with EMFILE: wsrace ran out of file descriptors${limit ? ` (limit ${limit})` : ''} — a limit of the generator, not the target. Raise it with \`ulimit -n\` (up to \`ulimit -Hn\`), lower load.maxConnections, or split the run into shards`,
    );
  }
  return out;
}

/**
 * Late starts, and the one remedy a flag gives when the cause is a target on the same cores: the
 * workers wait in the run queue behind it (docs/engine.md, Priority). Not offered once a nice was asked.
 */
function scheduleLagLine(p99: number, niceAsked: number | null): string {
  const line = `schedule lag p99 ${p99.toFixed(1)} ms: the generator fell behind its schedule; latencies include that wait`;
  return niceAsked === null ? `${line}. If the target shares this machine's cores, --nice -10 (Linux) puts the schedule first, at the target's expense` : line;
}

/** How far the run itself can be trusted: what was watched, dropped, late or cut short. */
function runQuality(input: FindingsInput): string[] {
  const { totals } = input;
  const out: string[] = [];
  if (!input.hasTimelineSource) out.push('no startup timeline was watched (configure timeline.health or timeline.log to pin failures to phases)');
  if (totals.dropped > 0) out.push(`${plural(totals.dropped, 'attempt')} dropped at the socket cap: a limit of the generator, not the target`);
  if (input.scheduleLagP99 !== null && input.scheduleLagP99 > 10) out.push(scheduleLagLine(input.scheduleLagP99, input.niceAsked ?? null));
  out.push(...messageSendLag(input.messages));
  if (input.loopDelayP99 != null && input.loopDelayP99 > LOOP_DELAY_WARN_MS) {
    out.push(`wsrace's workers were busy: their event loop ran late by ${input.loopDelayP99.toFixed(1)} ms at p99 (loopDelayMs), and socket events could have waited as long — tcp, upgrade and handshake times may include up to that much of the generator's own delay. Lower the rate per worker (more workers or --processes) or run from a bigger machine`);
  }
  if (input.interruptedBy) out.push(`the run was interrupted (${input.interruptedBy}): results are partial`);
  return out;
}
