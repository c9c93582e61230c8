import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Histogram } from 'hdr-histogram-js';
import { createHistogram, NS_PER_MS, recordMs } from '../record/histogram.js';
import type { MessageCounts, MessageLine } from '../record/messages.js';
import { readHlog } from './hlog.js';
import { eachLineSync } from '../util/line-file.js';
import type { Summary } from './summary.js';

/** A run's message round trips for compare: the whole run's from latency.hlog, each phase's from messages.ndjson. */
export interface MessageSide {
  total: Histogram;
  /** By the phase each message was sent in, as messages.ndjson has it now (`wsrace correlate` rewrites it). */
  phases: Map<string, Histogram>;
}

export interface MessageStats {
  sent: number;
  lost: number;
  late: number;
  /** lost / sent (0 with nothing sent). */
  lossRate: number;
  p: Record<number, number | null>;
}

export interface MessageRow {
  scope: string;
  base: MessageStats | null;
  cand: MessageStats | null;
}

/** The thresholds message comparison shares with handshakes' (compare.ts's CompareOptions). */
export interface MessageCompareOptions {
  failureTolerancePp: number;
  latencyTolerancePct: number;
  minLatencyDeltaMs: number;
  minSamples: number;
  percentiles: number[];
}

/** A run folder's message round trips; null when the run had no stream (no summary.messages). */
export function loadMessageSide(dir: string, summary: Summary): MessageSide | null {
  if (!summary.messages) return null;
  const total = createHistogram();
  for (const interval of readHlog(join(dir, 'latency.hlog'))) if (interval.tag === 'message-rtt') total.add(interval.histogram);
  const phases = new Map<string, Histogram>();
  const file = join(dir, 'messages.ndjson');
  if (existsSync(file)) {
    eachLineSync(file, (text) => {
      if (!text.includes('"rtt"')) return; // only replied and late messages have a round trip
      let line: MessageLine;
      try {
        line = JSON.parse(text) as MessageLine;
      } catch {
        return; // a last line torn by a killed run
      }
      if (line.rtt === undefined || !line.phase) return;
      let h = phases.get(line.phase);
      if (!h) phases.set(line.phase, (h = createHistogram()));
      recordMs(h, line.rtt);
    });
  }
  return { total, phases };
}

function messageStats(c: MessageCounts | undefined, h: Histogram | undefined, percentiles: number[]): MessageStats | null {
  if (!c) return null;
  const p: Record<number, number | null> = {};
  for (const q of percentiles) p[q] = h && h.totalCount > 0 ? h.getValueAtPercentile(q) / NS_PER_MS : null;
  return { sent: c.sent, lost: c.lost, late: c.late, lossRate: c.sent > 0 ? c.lost / c.sent : 0, p };
}

interface MessageRunSide {
  summary: Summary;
  messages: MessageSide | null;
}

/**
 * Message loss and round trip, in total and per phase, as compare does handshakes: a loss rate
 * up by more than the failure tolerance, or a round-trip percentile up by more than the latency
 * tolerance (and the minimum delta) where both sides have enough replies, is a regression.
 */
export function compareMessages(base: MessageRunSide, cand: MessageRunSide, options: MessageCompareOptions): { rows: MessageRow[]; regressions: string[]; warnings: string[] } {
  const rows: MessageRow[] = [];
  const regressions: string[] = [];
  const warnings: string[] = [];
  if (!base.messages || !cand.messages) {
    const [without, other] = !base.messages ? ['baseline', cand] : ['candidate', base];
    if (other.messages) warnings.push(`the ${without} has no message stream (session.stream): messages are not compared`);
    return { rows, regressions, warnings };
  }
  const scopes: [string, MessageCounts | undefined, MessageCounts | undefined, Histogram | undefined, Histogram | undefined][] = [
    ['total', base.summary.messages, cand.summary.messages, base.messages.total, cand.messages.total],
  ];
  const phases = [...new Set([...Object.keys(base.summary.phases ?? {}), ...Object.keys(cand.summary.phases ?? {})])];
  for (const phase of phases) {
    const [b, c] = [base.summary.phases?.[phase]?.messages, cand.summary.phases?.[phase]?.messages];
    if (b || c) scopes.push([`phase ${phase}`, b, c, base.messages.phases.get(phase), cand.messages.phases.get(phase)]);
  }
  for (const [scope, bc, cc, bh, ch] of scopes) {
    const row = { scope, base: messageStats(bc, bh, options.percentiles), cand: messageStats(cc, ch, options.percentiles) };
    rows.push(row);
    judge(row, [bh?.totalCount ?? 0, ch?.totalCount ?? 0], options, regressions, warnings);
  }
  return { rows, regressions, warnings };
}

/** One scope's regressions: its loss rate, then its round-trip percentiles when both sides have enough replies. */
function judge(row: MessageRow, samples: number[], options: MessageCompareOptions, regressions: string[], warnings: string[]): void {
  const { scope, base: b, cand: c } = row;
  if (!b || !c || b.sent === 0 || c.sent === 0) return;
  const ppUp = (c.lossRate - b.lossRate) * 100;
  if (ppUp > options.failureTolerancePp) {
    regressions.push(`${scope}: message loss ${(b.lossRate * 100).toFixed(1)}% → ${(c.lossRate * 100).toFixed(1)}% (+${ppUp.toFixed(1)} pp, tolerance ${options.failureTolerancePp} pp)`);
  }
  if (Math.min(...samples) < options.minSamples) {
    if (Math.max(...samples) > 0) warnings.push(`${scope}: message round-trip percentiles not compared (${samples[0]} and ${samples[1]} replies, fewer than --min-samples ${options.minSamples})`);
    return;
  }
  regressions.push(...percentileRises(`${scope}: message round-trip`, b.p, c.p, options));
}

/** "<what> p99 1.20 ms → 3.40 ms (+183%, tolerance 10%)" for each percentile up by more than the tolerance and the minimum delta. */
export function percentileRises(what: string, bp: Record<number, number | null>, cp: Record<number, number | null>, options: Pick<MessageCompareOptions, 'latencyTolerancePct' | 'minLatencyDeltaMs' | 'percentiles'>): string[] {
  const out: string[] = [];
  for (const q of options.percentiles) {
    const bv = bp[q];
    const cv = cp[q];
    if (bv === null || cv === null) continue;
    const delta = cv - bv;
    if (delta > options.minLatencyDeltaMs && delta > (bv * options.latencyTolerancePct) / 100) {
      out.push(`${what} p${q} ${bv.toFixed(2)} ms → ${cv.toFixed(2)} ms (+${((delta / bv) * 100).toFixed(0)}%, tolerance ${options.latencyTolerancePct}%)`);
    }
  }
  return out;
}

/** The message rows as text lines for the console (none when there are none). */
export function renderMessageRows(rows: MessageRow[], percentiles: number[], printable: (s: string) => string): string[] {
  if (rows.length === 0) return [];
  const fmt = (x: number | null) => (x === null ? '-' : x.toFixed(2));
  const header = ['messages', 'sent', 'lost %', 'late', ...percentiles.map((q) => `rtt p${q} ms`)];
  const cells = rows.map((r) => {
    const pair = (f: (s: MessageStats) => string) => `${r.base ? f(r.base) : '-'} → ${r.cand ? f(r.cand) : '-'}`;
    return [printable(r.scope), pair((s) => String(s.sent)), pair((s) => (s.lossRate * 100).toFixed(1)), pair((s) => String(s.late)), ...percentiles.map((q) => pair((s) => fmt(s.p[q])))];
  });
  return ['', ...alignColumns([header, ...cells])];
}

/** Rows of cells as lines: the first column left-aligned, the others right-aligned, two spaces apart. */
export function alignColumns(cells: string[][]): string[] {
  const widths = cells[0].map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => '  ' + row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
}
