import type { MessageCounts } from '../record/messages.js';
import { AFTER_READY_WINDOW_MS, type MessageBlock } from '../timeline/message-report.js';
import type { MessagesSummary } from './summary.js';

/** Stream sends late by more than this at p99 (ms) make the stream's own numbers suspect. */
export const SEND_LAG_WARN_MS = 10;

const count = (n: number) => n.toLocaleString('en-US');
const messages = (n: number) => `${count(n)} message${n === 1 ? '' : 's'}`;

/** A share as a percentage with one decimal; a non-zero share too small for it is "<0.1%". */
export function share(n: number, of: number): string {
  if (of <= 0) return '-';
  const p = (100 * n) / of;
  return p > 0 && p < 0.05 ? '<0.1%' : `${p.toFixed(1)}%`;
}

/** A round trip in the unit that reads best: 0.74 ms, 12 ms, 412 ms, 1.84 s. */
export function roundTrip(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms >= 10 ? ms.toFixed(0) : ms.toFixed(2)} ms`;
}

/** "312 of 4,020 messages sent <where> were lost (7.8%), 5 more answered late (0.1%)", or that all were answered in time. */
function fate(b: MessageCounts, where: string): string {
  const subject = `${count(b.lost > 0 ? b.lost : b.late)} of ${messages(b.sent)} sent ${where}`;
  if (b.lost > 0) return `${subject} were lost (${share(b.lost, b.sent)})${b.late > 0 ? `, ${count(b.late)} more answered late (${share(b.late, b.sent)})` : ''}`;
  if (b.late > 0) return `${subject} were answered late (${share(b.late, b.sent)})`;
  return `the ${messages(b.sent)} sent ${where} were all answered in time`;
}

/**
 * The stream around readiness, the point of the tool: what became of the messages sent in the
 * first seconds after ready, and their round trip against the rest of the run's. Without
 * readiness, the whole run's.
 */
export function messageRace(m: MessagesSummary | null | undefined): string[] {
  if (!m || m.sent === 0) return [];
  const first = m.firstAfterReady;
  const later = m.laterAfterReady;
  if (!first || !later) {
    if (m.rttMs.p50 === null || m.rttMs.p99 === null) return [`${fate(m, 'in the run')}; none was answered`];
    return [`${fate(m, 'in the run')}; round-trip p50 ${roundTrip(m.rttMs.p50)}, p99 ${roundTrip(m.rttMs.p99)}`];
  }
  const out: string[] = [];
  const window = `in the ${AFTER_READY_WINDOW_MS / 1000} s after ready`;
  if (first.sent > 0) out.push(`${fate(first, window)}${rttAgainstLater(first, later)}`);
  if (later.lost + later.late > 0) out.push(fate(later, `more than ${AFTER_READY_WINDOW_MS / 1000} s after ready`));
  return out;
}

/** "; round-trip p99 1.84 s against 12 ms later", as far as either side had replies. */
function rttAgainstLater(first: MessageBlock, later: MessageBlock): string {
  const f = first.rttMs.p99;
  const l = later.rttMs.p99;
  if (f === null) return l === null ? '' : `; none was answered, against round-trip p99 ${roundTrip(l)} later`;
  return `; round-trip p99 ${roundTrip(f)}${l === null ? '' : ` against ${roundTrip(l)} later`}`;
}

/** How many of `n` in the whole run were sent after ready (null: no readiness, say nothing). */
function afterReadyPart(n: number, after: number | null): string {
  if (after === null) return '';
  if (after === n) return n === 1 ? ', sent after ready' : ', all sent after ready';
  if (after === 0) return n === 1 ? ', sent before ready' : ', all sent before ready';
  return `, ${count(after)} of them sent after ready`;
}

/**
 * The rest of what the stream saw: which close codes took the lost messages, late replies,
 * replies out of order, duplicated or answering nothing, and gaps in the server's own sequence.
 */
export function messageDetails(m: MessagesSummary | null | undefined, afterReady: MessageCounts | null | undefined): string[] {
  if (!m) return [];
  const out: string[] = [];
  const ready = m.firstAfterReady !== null && afterReady ? afterReady : null;
  const byCount = Object.entries(m.lostByClose).filter(([, n]) => n > 0).sort(([, a], [, b]) => b - a);
  for (const [code, n] of byCount) {
    const after = afterReadyPart(n, ready ? (ready.lostByClose[code] ?? 0) : null);
    const [was, their, them] = n === 1 ? ['was', 'its', 'it'] : ['were', 'their', 'them'];
    if (code === '1000') out.push(`${messages(n)} ${was} never answered: ${their} socket closed 1000 (normally) with ${them} outstanding${after}`);
    else out.push(`${messages(n)} ${was} lost when ${their} socket closed ${code}${code === '1006' ? ' (no close frame: dropped)' : ''}${after}`);
  }
  if (m.late > 0) out.push(`${messages(m.late)} ${m.late === 1 ? 'was' : 'were'} answered late, after session.stream.within${afterReadyPart(m.late, ready ? ready.late : null)}`);
  const order: string[] = [];
  if (m.outOfOrder > 0) order.push(`${count(m.outOfOrder)} ${m.outOfOrder === 1 ? 'reply' : 'replies'} came out of order`);
  if (m.duplicates > 0) order.push(`${count(m.duplicates)} ${m.duplicates === 1 ? 'was a duplicate' : 'were duplicates'}`);
  if (m.unmatched > 0) order.push(`${count(m.unmatched)} answered no message sent (unmatched)`);
  if (order.length > 0) out.push(order.length === 1 ? order[0] : `${order.slice(0, -1).join(', ')} and ${order[order.length - 1]}`);
  if (m.serverGaps > 0) {
    out.push(`the server's own sequence (session.serverSeq) skipped ${count(m.serverMissing)} number${m.serverMissing === 1 ? '' : 's'} in ${count(m.serverGaps)} gap${m.serverGaps === 1 ? '' : 's'}: messages it sent never arrived`);
  }
  return out;
}

/** The generator fell behind the stream's schedule: its own delay is in the numbers. */
export function messageSendLag(m: MessagesSummary | null | undefined): string[] {
  const p99 = m?.sendLagMs.p99;
  if (p99 == null || p99 <= SEND_LAG_WARN_MS) return [];
  return [
    `message send lag p99 ${p99.toFixed(1)} ms (messages.sendLagMs): the generator fell behind the stream's schedule, so messages went out late and their round trips may include up to that much of wsrace's own delay. Send less often (session.stream.every), use more workers, or run from a bigger machine`,
  ];
}
