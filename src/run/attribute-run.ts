import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PhaseTimeline } from '../timeline/attribute.js';
import { attributeEventsFile, type Attribution, type EventLine } from '../timeline/phase-report.js';
import { attributeMessagesFile, OpenTimes } from '../timeline/message-report.js';
import { servedAfterOf } from '../record/clients.js';

/** A run folder's scenario.json, parsed; null when it has none (an older run folder) or it does not parse. */
export function scenarioOf(dir: string): unknown {
  try {
    return JSON.parse(readFileSync(join(dir, 'scenario.json'), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * What the messages' send lag by phase needs from a finished run folder (timeline/message-report.ts):
 * its stream's `every` from scenario.json, and the attempts' open times, which the caller feeds it
 * in its events.ndjson pass. Null without a stream that sends (or without scenario.json: an older
 * run folder).
 */
function sendLagCollector(scenario: unknown): OpenTimes | null {
  const every = (scenario as { session?: { stream?: { every?: unknown } } } | null)?.session?.stream?.every;
  return typeof every === 'number' && every > 0 ? new OpenTimes(every) : null;
}

/**
 * A finished run's events.ndjson and messages.ndjson attributed against `timeline`, each line
 * rewritten with its phase: one pass over the attempts (which also gathers the open times the
 * messages' send lag is read from, and feeds `visit`), then one over the messages. The run's
 * live end, `correlate` and `merge` all attribute this way. `scenario`: the parsed scenario.json,
 * when it is not `dir`'s own (a merge has read its leader's).
 */
export async function attributeRunFiles(dir: string, timeline: PhaseTimeline, options: { scenario?: unknown; visit?: (e: EventLine) => void } = {}): Promise<Attribution> {
  const scenario = options.scenario !== undefined ? options.scenario : scenarioOf(dir);
  const lag = sendLagCollector(scenario);
  const { visit } = options;
  const attribution = await attributeEventsFile(join(dir, 'events.ndjson'), timeline, {
    rewrite: true,
    servedAfterMs: servedAfterOf(scenario),
    visit:
      lag || visit
        ? (e) => {
            visit?.(e);
            lag?.add(e);
          }
        : undefined,
  });
  attribution.messages = await attributeMessagesFile(join(dir, 'messages.ndjson'), timeline, { rewrite: true, sendLag: lag });
  return attribution;
}
