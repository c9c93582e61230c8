import { existsSync } from 'node:fs';
import { eachNdjsonLine } from '../util/ndjson.js';
import type { Histogram } from 'hdr-histogram-js';
import { createHistogram, latencyStats, recordMs, type LatencyStats } from '../record/histogram.js';
import { addMessage, emptyMessageCounts, kindOf, mergeMessageCounts, MSG_LATE, MSG_REPLIED, type MessageCounts, type MessageLine } from '../record/messages.js';
import { phaseAt, phaseOrder, type PhaseTimeline } from './attribute.js';

/** Message counts and round trips of one slice of the run. */
export type MessageBlock = MessageCounts & { rttMs: LatencyStats };

/** How long after readiness counts as "right after it" in the findings and `messages.firstAfterReady`. */
export const AFTER_READY_WINDOW_MS = 2000;

export interface MessageAttribution {
  /** By the phase in effect when each message was sent (a reply or gap that answered none: when it came). */
  phases: Record<string, MessageBlock>;
  beforeReady: MessageBlock;
  afterReady: MessageBlock;
  /** The first AFTER_READY_WINDOW_MS after readiness, and the rest of the run after it; null without readiness. */
  firstAfterReady: MessageBlock | null;
  laterAfterReady: MessageBlock | null;
}

interface Acc {
  counts: MessageCounts;
  rtt: Histogram;
}

const acc = (): Acc => ({ counts: emptyMessageCounts(), rtt: createHistogram() });

const block = (a: Acc): MessageBlock => ({ ...mergeMessageCounts(emptyMessageCounts(), a.counts), rttMs: latencyStats(a.rtt) });

/** Sums messages.ndjson's lines by phase and around readiness. Pure over its inputs. */
export class MessageAttributor {
  private readonly byPhase = new Map<string, Acc>();
  private readonly before = acc();
  private readonly after = acc();
  private readonly first = acc();
  private readonly later = acc();

  constructor(private readonly timeline: PhaseTimeline) {
    for (const phase of phaseOrder(timeline)) this.byPhase.set(phase, acc());
  }

  /** Counts one line; returns its phase. */
  add(line: MessageLine): string {
    const at = line.sent ?? line.at ?? 0;
    const phase = phaseAt(this.timeline, at);
    let slot = this.byPhase.get(phase);
    if (!slot) this.byPhase.set(phase, (slot = acc()));
    const ready = this.timeline.readyAtMs;
    const slots = [slot, ready !== null && at >= ready ? this.after : this.before];
    if (ready !== null && at >= ready) slots.push(at < ready + AFTER_READY_WINDOW_MS ? this.first : this.later);
    const kind = kindOf(line);
    for (const a of slots) {
      addMessage(a.counts, kind, line.code ?? line.missing ?? 0, line.ooo ? 1 : 0);
      if ((kind === MSG_REPLIED || kind === MSG_LATE) && line.rtt !== undefined) recordMs(a.rtt, line.rtt);
    }
    return phase;
  }

  /** Phases in timeline order; phases no message fell into are left out. */
  result(): MessageAttribution {
    const phases: Record<string, MessageBlock> = {};
    for (const [phase, a] of this.byPhase) if (a.counts.sent + a.counts.duplicates + a.counts.unmatched + a.counts.serverGaps > 0) phases[phase] = block(a);
    const ready = this.timeline.readyAtMs !== null;
    return { phases, beforeReady: block(this.before), afterReady: block(this.after), firstAfterReady: ready ? block(this.first) : null, laterAfterReady: ready ? block(this.later) : null };
  }
}

/**
 * Attributes every line of messages.ndjson (a long stream makes it large, so it is streamed);
 * with `rewrite`, each line gets its `phase`. Null when the run wrote no such file (no stream).
 */
export async function attributeMessagesFile(path: string, timeline: PhaseTimeline, options: { rewrite?: boolean } = {}): Promise<MessageAttribution | null> {
  if (!existsSync(path)) return null;
  const attributor = new MessageAttributor(timeline);
  await eachNdjsonLine<MessageLine>(path, (line) => (line.phase = attributor.add(line)), options);
  return attributor.result();
}
