import { readFileSync } from 'node:fs';
import { InputError } from '../scenario/errors.js';
import { parseTimestamp } from './log-source.js';
import type { TimelineEvent } from './types.js';
import { round3 } from '../util/round.js';

/**
 * Phase events supplied after the fact (staging logs that arrive minutes late): a JSON list of
 * `{ phase, at }` with `at` an ISO time or epoch ms (or s). `phase: "ready"` and
 * `phase: "failed"` are the readiness and failed-startup signals.
 */
export function loadSuppliedTimeline(file: string): TimelineEvent[] {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`${file}: cannot read the timeline (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!Array.isArray(data)) throw new InputError(`${file}: expected a JSON list of { "phase": ..., "at": ... }, found ${typeof data}`);
  return data.map((item, i): TimelineEvent => {
    const e = item as { phase?: unknown; at?: unknown; reason?: unknown };
    if (typeof e?.phase !== 'string' || e.phase === '') throw new InputError(`${file}: [${i}].phase: expected a phase name (string), found ${JSON.stringify(e?.phase)}`);
    const at = typeof e.at === 'number' ? (e.at < 1e11 ? e.at * 1000 : e.at) : typeof e.at === 'string' ? parseTimestamp(e.at) : null;
    if (at === null) throw new InputError(`${file}: [${i}].at: expected an ISO time or epoch milliseconds, found ${JSON.stringify(e.at)}`);
    if (e.phase === 'ready') return { kind: 'ready', source: 'supplied', at };
    if (e.phase === 'failed') return { kind: 'failed', source: 'supplied', at, reason: typeof e.reason === 'string' ? e.reason : undefined };
    return { kind: 'phase', source: 'supplied', at, phase: e.phase };
  });
}

/** One line of timeline.ndjson: the event with its times in ms since T0 (`at` → `ms`, a probe's `sentAt` → `sentMs`). */
export function timelineLine(e: TimelineEvent, t0: number): string {
  const { at, ...rest } = e;
  if (rest.kind === 'phase' && rest.sentAt !== undefined) {
    const { sentAt, ...phase } = rest;
    return JSON.stringify({ ms: round3(at - t0), ...phase, sentMs: round3(sentAt - t0) });
  }
  return JSON.stringify({ ms: round3(at - t0), ...rest });
}

/** timeline.ndjson read back into events (its times are ms since T0). */
export function loadRunTimeline(file: string, t0: number): TimelineEvent[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const { ms, sentMs, ...rest } = JSON.parse(l) as { ms: number; sentMs?: number } & Record<string, unknown>;
      return { ...rest, at: t0 + ms, ...(typeof sentMs === 'number' ? { sentAt: t0 + sentMs } : {}) } as TimelineEvent;
    });
}
