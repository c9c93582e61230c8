import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What a finished run folder gives the messages' send lag by phase (timeline/message-report.ts):
 * its stream's `every` from scenario.json and its events.ndjson (a merge's: the leader's scenario,
 * the merged events). Undefined without a stream that
 * sends (or without scenario.json: an older run folder).
 */
export function sendLagInputs(dir: string, eventsDir = dir): { everyMs: number; events: string } | undefined {
  let every: unknown;
  try {
    every = (JSON.parse(readFileSync(join(dir, 'scenario.json'), 'utf8')) as { session?: { stream?: { every?: unknown } } }).session?.stream?.every;
  } catch {
    return undefined;
  }
  return typeof every === 'number' && every > 0 ? { everyMs: every, events: join(eventsDir, 'events.ndjson') } : undefined;
}
