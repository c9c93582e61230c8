import { describe, expect, it } from 'vitest';
import { expectClocksAgree, expectLoadCovers, join_, readEvents, readMessages, readTimelineEvents, runAgainstSim, type MessageRow, type Truth, type TruthMsg } from './helpers/coldstart.js';
import { CROSS_PROCESS_CLOCK_MS as CLOCK, slackFrom, watchLoop } from './helpers/slack.js';
import { warmDelay } from '../src/sim/index.js';
import type { Summary } from '../src/report/summary.js';

/**
 * A message stream on every socket against the racy simulator at 1/10 time, checked message for
 * message against its truth file. The windows (model time): the loss window is the 2 s before
 * the bridge (200 ms wall), replies are held 4 s at ready (400 ms) and less and less over the 8 s
 * after it (800 ms). The load runs 9 s: the simulator's process takes ~0.3 s to come up on an
 * idle machine and seconds on a busy one (4.4 s once with the suite and two spinning processes on
 * both cores), its startup ~2 s more, and the load must go on 1.3 s past ready (expectLoadCovers
 * says so when it did not).
 */
const SIM = '--time-scale 0.1 --race-window 0 --loss-window 2s --warm-delay 4s --warm 8s';
const WARM_DELAY_MS = 400;
const WARM_MS = 800;
const AFTER_MS = WARM_MS + 500;
/** hold < within: a socket whose first ping was swallowed still waits for the replies held after its hold. */
const BODY = `load:
  stages:
    - { duration: 9s, rate: 40 }
session:
  hold: 500ms
  stream: { every: 50ms, within: 2s }
timeline:
  log: { from: target }
  health: { url: "http://127.0.0.1:PORT/health", interval: 25ms }
  readyFrom: log
`;

/** What the simulator did with one message wsrace sent: its truth line, or the 1011 it closed the socket with before reading any. */
type Fate = { kind: 'msg'; t: TruthMsg } | { kind: 'closed_1011'; at: number; phase: string } | { kind: 'unknown' };

interface Pair {
  m: MessageRow;
  /** Epoch ms wsrace sent it (its clock). */
  sentAt: number;
  fate: Fate;
}

/** Joins every message wsrace sent with its fate at the simulator: attempts by local port ↔ remote port, then messages by seq. */
function joinMessages(dir: string, truth: Truth, t0: number): Pair[] {
  const byAttempt = new Map(join_(readEvents(dir), truth).map(({ e, t }) => [e.i, t]));
  const msgs = new Map(truth.msgs.map((t) => [`${t.connId}#${t.seq}`, t]));
  return readMessages(dir).map((m) => {
    const conn = byAttempt.get(m.i);
    if (!conn) throw new Error(`message ${JSON.stringify(m)}: its attempt never reached the simulator`);
    const t = msgs.get(`${(conn as { connId?: string }).connId}#${m.seq}`);
    if (t) msgs.delete(`${t.connId}#${t.seq}`);
    const fate: Fate = t ? { kind: 'msg', t } : conn.action === 'close_1011' ? { kind: 'closed_1011', at: conn.at, phase: conn.phase } : { kind: 'unknown' };
    return { m, sentAt: t0 + m.sent!, fate };
  });
}

/** The outcome wsrace must have seen for a fate: a reply sent (while the socket was open) arrives; nothing else does. */
function expected(f: Fate): { r: string; code?: number } {
  if (f.kind === 'unknown') return { r: 'a message the simulator never saw on a socket it did not close' };
  if (f.kind === 'closed_1011') return { r: 'lost', code: 1011 };
  // wsrace closes 1000 once its hold is over and the replies are in or too late to wait for.
  return f.t.action === 'replied' ? { r: 'replied' } : { r: 'lost', code: 1000 };
}

/**
 * Phases. wsrace puts a message in the phase in effect when it SENT it, by the log lines it read;
 * the simulator in its phase when it received the message (or, for a socket it closed 1011, when
 * it handled the upgrade). For a phase boundary the simulator crossed at τ and wsrace read at w,
 * the two can differ only for a message whose [sent, simulator's moment] touches
 * [min(τ, w), max(τ, w)], widened by the clocks' disagreement. Every other message must be in
 * the same phase on both sides; those are compared one by one and counted per phase.
 */
function comparePhases(pairs: Pair[], truth: Truth, s: Summary) {
  const seen = new Map(s.timeline.map((span) => [span.phase, s.t0EpochMs + span.startMs]));
  const bounds = truth.phases.map((p) => {
    const w = seen.get(p.phase) ?? Infinity;
    return { from: Math.min(p.at, w) - CLOCK, to: Math.max(p.at, w) + CLOCK };
  });
  const tally = (side: 'wsrace' | 'sim', phase: string, r: string, acc: Record<string, Record<string, number>>) => {
    const row = (acc[`${side}:${phase}`] ??= { sent: 0, replied: 0, lost: 0 });
    row.sent++;
    row[r === 'replied' ? 'replied' : 'lost']++;
  };
  const wsrace: Record<string, Record<string, number>> = {};
  const sim: Record<string, Record<string, number>> = {};
  const mismatches: string[] = [];
  for (const { m, sentAt, fate } of pairs) {
    if (fate.kind === 'unknown') continue;
    const simAt = fate.kind === 'msg' ? fate.t.at : fate.at;
    const simPhase = fate.kind === 'msg' ? fate.t.phase : fate.phase;
    const [lo, hi] = [Math.min(sentAt, simAt), Math.max(sentAt, simAt)];
    if (bounds.some((b) => lo < b.to && hi >= b.from)) continue;
    if (m.phase !== simPhase) mismatches.push(`#${m.i} seq ${m.seq} sent +${m.sent} wsrace ${m.phase} simulator ${simPhase}`);
    tally('wsrace', m.phase, m.r, wsrace);
    tally('sim', simPhase, expected(fate).r, sim);
  }
  const strip = (acc: Record<string, Record<string, number>>) => Object.fromEntries(Object.entries(acc).map(([k, v]) => [k.split(':')[1], v]));
  return { mismatches, wsrace: strip(wsrace), sim: strip(sim), compared: Object.values(wsrace).reduce((a, v) => a + v.sent, 0) };
}

describe('message streams against the racy simulator, message for message', () => {
  it('sent, replied and lost equal what the simulator received, answered and dropped; per phase too; replies after ready slowed as it warms', async () => {
    // The simulator stamps a reply just before writing it; a process descheduled between the two (an
    // oversubscribed machine) is not in the run's own lag: this idle thread's longest stall bounds it.
    const stalls = watchLoop();
    const { result, truth, dir } = await runAgainstSim({ profile: 'racy', simArgs: SIM, body: BODY });
    stalls.stop();
    const s = result.summary;
    expectLoadCovers(result, truth, AFTER_MS);
    expect(s.ready.source).toBe('log');
    const pairs = joinMessages(dir, truth, s.t0EpochMs);
    expectClocksAgree(join_(readEvents(dir), truth), truth, s.t0EpochMs, readTimelineEvents(dir));

    // Every message wsrace counted is sent, replied or lost (no duplicates, unmatched or gaps),
    // and every stream ping the simulator saw is one of them.
    const lines = readMessages(dir);
    expect(lines.filter((m) => !['replied', 'lost'].includes(m.r))).toEqual([]);
    expect(pairs.filter((p) => p.fate.kind === 'unknown').map((p) => p.m)).toEqual([]);
    expect(pairs.filter((p) => p.fate.kind === 'msg')).toHaveLength(truth.msgs.length);

    // Message for message: what wsrace saw is what the simulator did.
    const wrong = pairs.filter(({ m, fate }) => {
      const want = expected(fate);
      return m.r !== want.r || (want.code !== undefined && m.code !== want.code);
    });
    expect(wrong.map(({ m, fate }) => ({ m, fate }))).toEqual([]);
    const msgs = s.messages!;
    const count = (pred: (t: TruthMsg) => boolean) => truth.msgs.filter(pred).length;
    const closed = pairs.filter((p) => p.fate.kind === 'closed_1011').length;
    expect({ sent: msgs.sent, replied: msgs.replied, late: msgs.late, lost: msgs.lost, lostByClose: msgs.lostByClose }).toEqual({
      sent: truth.msgs.length + closed,
      replied: count((t) => t.action === 'replied'),
      late: 0,
      lost: count((t) => t.action !== 'replied') + closed,
      // A close code that took no message has no entry.
      lostByClose: Object.fromEntries(Object.entries({ '1000': count((t) => t.action !== 'replied'), '1011': closed }).filter(([, n]) => n > 0)),
    });
    // The race happened: early sockets closed 1011, pings swallowed first and inside the loss window.
    expect(closed).toBeGreaterThan(0);
    expect(count((t) => t.why === 'first')).toBe(truth.counts.lost_message);
    expect(count((t) => t.why === 'first')).toBeGreaterThan(0);
    expect(count((t) => t.why === 'loss_window')).toBeGreaterThan(0);

    // Per phase: wsrace's summary is its file's lines by phase, and those equal the simulator's.
    const fromFile: Record<string, { sent: number; replied: number; lost: number }> = {};
    for (const m of lines) {
      const row = (fromFile[m.phase] ??= { sent: 0, replied: 0, lost: 0 });
      row.sent++;
      row[m.r === 'replied' ? 'replied' : 'lost']++;
    }
    expect(Object.fromEntries(Object.entries(s.phases).filter(([, p]) => p.messages).map(([name, p]) => [name, { sent: p.messages!.sent, replied: p.messages!.replied, lost: p.messages!.lost }]))).toEqual(fromFile);
    const phases = comparePhases(pairs, truth, s);
    expect(phases.mismatches).toEqual([]);
    expect(phases.wsrace).toEqual(phases.sim);
    expect(phases.compared).toBeGreaterThan(pairs.length / 2);
    expect(Object.keys(phases.sim)).toEqual(expect.arrayContaining(['dependencies', 'ready']));

    // The warm-up: each reply was held exactly as the simulator's function says for when the ping
    // arrived (a socket's replies in order), and wsrace's round trip is the simulator's hold plus
    // the trips: from the moment it sent to the moment the simulator replied, less the clocks'
    // disagreement, up to this run's own lateness in taking the reply in.
    const readyAt = truth.t0! + (truth.plan!.readyAtMs as number);
    expect(truth.plan).toMatchObject({ warmDelayMs: WARM_DELAY_MS, warmMs: WARM_MS });
    const due = new Map<string, number>();
    const late = slackFrom(s, { events: 1, fromSchedule: false });
    const replied = pairs.filter((p): p is Pair & { fate: { kind: 'msg'; t: TruthMsg } } => p.fate.kind === 'msg' && p.fate.t.action === 'replied');
    for (const t of [...truth.msgs].sort((a, b) => a.at - b.at)) {
      if (t.action === 'dropped') continue;
      const d = Math.max(t.at + warmDelay(t.at - readyAt, WARM_DELAY_MS, WARM_MS), due.get(t.connId) ?? -Infinity);
      due.set(t.connId, d);
      expect(t.delayMs).toBe(Math.round((d - t.at) * 1000) / 1000);
    }
    for (const { m, sentAt, fate } of replied) {
      const simSide = fate.t.replyAt! - sentAt;
      expect(fate.t.replyAt! - fate.t.at).toBeGreaterThanOrEqual(fate.t.delayMs!);
      expect(m.rtt!).toBeGreaterThanOrEqual(simSide - CLOCK - 0.001);
      expect(m.rtt!).toBeLessThanOrEqual(simSide + late + stalls.maxWaitMs() + CLOCK + 0.001);
    }
    // Held replies came right around ready, none once it was warm.
    const heldReplies = replied.filter((p) => p.fate.t.delayMs! > 0);
    expect(heldReplies.length).toBeGreaterThan(0);
    expect(heldReplies.every((p) => p.fate.t.at < readyAt + WARM_MS)).toBe(true);
    expect(replied.filter((p) => p.fate.t.at >= readyAt + WARM_MS).length).toBeGreaterThan(0);
    expect(msgs.rttMs.max!).toBeGreaterThanOrEqual(Math.max(...heldReplies.map((p) => p.fate.t.delayMs!)) - 2 * CLOCK);
  }, 60_000);
});
