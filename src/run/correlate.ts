import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TimelineEvent } from '../timeline/types.js';
import { InputError } from '../scenario/errors.js';
import { summarizeTimeline } from '../report/assemble.js';
import { thresholdsOf, withTimeline, type Summary } from '../report/summary.js';
import { attributeRunFiles } from './attribute-run.js';
import { writeDerivedReports } from '../report/run-files.js';
import { loadRunTimeline, loadSuppliedTimeline } from '../timeline/supplied.js';

export function readSummary(runDir: string): Summary {
  const file = join(runDir, 'summary.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Summary;
  } catch (err) {
    throw new InputError(`${file}: not a wsrace run folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The live events a supplied timeline does not replace: health probes and readiness, the target's and the trigger's exits, a deploy's launch. */
export function keptLive(events: readonly TimelineEvent[]): TimelineEvent[] {
  return events.filter((e) => e.kind === 'probe' || e.kind === 'exit' || e.kind === 'deploy' || (e.kind === 'ready' && e.source === 'health'));
}

/**
 * Re-attributes a finished run against phase events supplied later. The supplied phases replace
 * the live ones; health probes, the target's exit and a mid-run deploy's launch (which opens the
 * new revision's startup) are kept. Readiness comes from the supplied
 * file when it has a `ready` event, else from the live run's source.
 */
export async function correlateRun(runDir: string, timelineFile: string): Promise<Summary> {
  const summary = readSummary(runDir);
  const t0 = summary.t0EpochMs ?? Date.parse(summary.t0);
  const supplied = loadSuppliedTimeline(timelineFile);
  const live = keptLive(loadRunTimeline(join(runDir, 'timeline.ndjson'), t0));
  const readyFrom = supplied.some((e) => e.kind === 'ready') ? 'supplied' : summary.readyFrom === 'health' ? 'health' : null;
  const { summary: timelineSummary, timeline } = summarizeTimeline([...supplied, ...live], t0, readyFrom);
  const attribution = await attributeRunFiles(runDir, timeline);
  const updated = withTimeline({ ...summary, readyFrom, correlatedWith: timelineFile }, timelineSummary, attribution, thresholdsOf(summary, join(runDir, 'summary.json')), true);
  writeFileSync(join(runDir, 'summary.json'), JSON.stringify(updated, null, 2) + '\n');
  await writeDerivedReports(runDir, updated);
  return updated;
}
