import type { TimelineEvent } from './types.js';
import { round3 } from '../util/round.js';

export interface HealthSummary {
  probes: number;
  /** First probe that got any HTTP answer, ms since T0. */
  firstAnswerMs: number | null;
  /** First probe answered with a 2xx. */
  first2xxMs: number | null;
  /** Consecutive probes with the same status merged (status null = no answer). */
  spans: { status: number | null; startMs: number; endMs: number }[];
}

/** Folds health probes into spans of equal status (pure). */
export function summarizeHealth(events: readonly TimelineEvent[], t0: number): HealthSummary | null {
  const probes = events.filter((e): e is Extract<TimelineEvent, { kind: 'probe' }> => e.kind === 'probe').sort((a, b) => a.at - b.at);
  if (probes.length === 0) return null;
  const spans: HealthSummary['spans'] = [];
  let firstAnswerMs: number | null = null;
  let first2xxMs: number | null = null;
  for (const p of probes) {
    const ms = round3(p.at - t0);
    if (p.status !== null && firstAnswerMs === null) firstAnswerMs = ms;
    if (p.status !== null && p.status >= 200 && p.status < 300 && first2xxMs === null) first2xxMs = ms;
    const last = spans[spans.length - 1];
    if (last && last.status === p.status) last.endMs = ms;
    else {
      if (last) last.endMs = ms;
      spans.push({ status: p.status, startMs: ms, endMs: ms });
    }
  }
  return { probes: probes.length, firstAnswerMs, first2xxMs, spans };
}
