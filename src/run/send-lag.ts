import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpenTimes } from '../timeline/message-report.js';

/**
 * What the messages' send lag by phase needs from a finished run folder (timeline/message-report.ts):
 * its stream's `every` from scenario.json, and the attempts' open times, which the caller feeds it
 * in its events.ndjson pass. Null without a stream that sends (or without scenario.json: an older
 * run folder).
 */
export function sendLagCollector(dir: string): OpenTimes | null {
  let every: unknown;
  try {
    every = (JSON.parse(readFileSync(join(dir, 'scenario.json'), 'utf8')) as { session?: { stream?: { every?: unknown } } }).session?.stream?.every;
  } catch {
    return null;
  }
  return typeof every === 'number' && every > 0 ? new OpenTimes(every) : null;
}
