import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Histogram } from 'hdr-histogram-js';
import { createHistogram, NS_PER_MS, recordMs } from '../record/histogram.js';
import { failureCount, type Totals } from '../record/totals.js';
import { InputError } from '../scenario/errors.js';
import { readHlog } from './hlog.js';
import { phaseTag } from '../record/interval-log.js';
import type { Summary } from './summary.js';
import { printable } from '../util/printable.js';
import { eachLineSync } from '../util/line-file.js';
import { clientsStats, compareClients, renderClients, type ClientsStats } from './compare-population.js';
import { alignColumns, compareMessages, loadMessageSide, percentileRises, renderMessageRows, type MessageRow, type MessageSide } from './compare-messages.js';

export interface CompareOptions {
  /** Allowed rise in failure rate (and message loss rate), in percentage points. */
  failureTolerancePp: number;
  /** Allowed relative rise of a handshake (or message round-trip) percentile, in percent… */
  latencyTolerancePct: number;
  /** …and never flagged below this absolute rise (ms), so sub-millisecond noise is not a regression. */
  minLatencyDeltaMs: number;
  /** Handshakes (replies, for messages) a scope needs on both sides before its percentiles are compared: p99 of a few dozen is noise. */
  minSamples: number;
  percentiles: number[];
}

export const DEFAULT_COMPARE: CompareOptions = { failureTolerancePp: 1, latencyTolerancePct: 10, minLatencyDeltaMs: 1, minSamples: 100, percentiles: [50, 90, 99] };

export interface RunSide {
  dir: string;
  summary: Summary;
  /** Handshake histograms from latency.hlog: 'total' and one per phase. */
  handshake: Map<string, Histogram>;
  /** session.stream's round trips; null when the run had no stream. */
  messages: MessageSide | null;
}

export interface Comparison {
  rows: { scope: string; base: ScopeStats | null; cand: ScopeStats | null }[];
  /** Message loss and round trip, total and per phase; empty unless both runs had a stream. */
  messages: MessageRow[];
  regressions: string[];
  /** What makes the two less comparable than they look (a partial run); never a regression by itself. */
  warnings: string[];
  /** Reconnecting clients (a population): drops, never back, disconnects, outage; absent without them in the candidate. */
  clients?: { base: ClientsStats | null; cand: ClientsStats };
}

export interface ScopeStats {
  attempted: number;
  failureRate: number;
  c1011: number;
  http5xx: number;
  p: Record<number, number | null>;
}

/** Loads a run folder for comparison; latency comes from histograms (the interval log, the events), never from rounded numbers. */
export function loadRunSide(dir: string, summary: Summary): RunSide {
  const handshake = new Map<string, Histogram>();
  const hlog = join(dir, 'latency.hlog');
  if (!existsSync(hlog)) throw new InputError(`${hlog}: missing; compare needs the run's interval log`);
  const total = createHistogram();
  for (const interval of readHlog(hlog)) if (interval.tag === 'handshake') total.add(interval.histogram);
  handshake.set('total', total);
  // Per phase from events.ndjson, whose phases are the current ones (`wsrace correlate` rewrites
  // them); recorded like the live histograms, from the events' µs times.
  // Streamed: a run's events can be far more than memory should hold.
  const events = join(dir, 'events.ndjson');
  if (existsSync(events)) {
    eachLineSync(events, (line) => {
      if (!line) return;
      const e = JSON.parse(line) as { sched: number; open: number | null; phase?: string };
      if (e.open === null || e.open === undefined || !e.phase) return;
      const key = phaseTag(e.phase);
      let h = handshake.get(key);
      if (!h) handshake.set(key, (h = createHistogram()));
      recordMs(h, e.open - e.sched);
    });
  }
  return { dir: realpathSync(dir), summary, handshake, messages: loadMessageSide(dir, summary) };
}

function stats(t: Totals, h: Histogram | undefined, percentiles: number[]): ScopeStats {
  const http5xx = Object.entries(t.httpStatus).reduce((sum, [st, n]) => (st.startsWith('5') ? sum + n : sum), 0);
  const p: Record<number, number | null> = {};
  for (const q of percentiles) p[q] = h && h.totalCount > 0 ? h.getValueAtPercentile(q) / NS_PER_MS : null;
  // Of the attempts that got an outcome: one cut short by Ctrl-C or the drain bound is neither a failure nor a success.
  const decided = t.attempted - (t.errors.interrupted ?? 0);
  return { attempted: t.attempted, failureRate: decided > 0 ? failureCount(t) / decided : 0, c1011: t.closeCodes['1011'] ?? 0, http5xx, p };
}

/** Keys of outcomes a run has: close codes other than 1000, HTTP status classes, error kinds. */
function outcomeKinds(t: Totals): Set<string> {
  const out = new Set<string>();
  for (const [code, n] of Object.entries(t.closeCodes)) if (code !== '1000' && n > 0) out.add(`close ${code}`);
  for (const [st, n] of Object.entries(t.httpStatus)) if (n > 0) out.add(`HTTP ${st[0]}xx`);
  for (const [kind, n] of Object.entries(t.errors)) if (n > 0 && kind !== 'interrupted') out.add(kind);
  if (t.dropped > 0) out.add('dropped');
  return out;
}

/** Baseline vs candidate, in total and per phase present in either (pure over loaded runs). */
export function compareRuns(base: RunSide, cand: RunSide, options: CompareOptions = DEFAULT_COMPARE): Comparison {
  const regressions: string[] = [];
  const warnings: string[] = [];
  for (const [name, side] of [['baseline', base], ['candidate', cand]] as const) {
    if (side.summary.partial) warnings.push(`the ${name} is a partial run (${side.summary.interruptedBy ?? 'stopped early'}): it covers only part of its schedule, so its rates and percentiles are of that part`);
  }
  const rows: Comparison['rows'] = [];
  const scopes: [string, Totals | undefined, Totals | undefined, string][] = [['total', base.summary.totals, cand.summary.totals, 'total']];
  const phases = [...new Set([...Object.keys(base.summary.phases ?? {}), ...Object.keys(cand.summary.phases ?? {})])];
  for (const phase of phases) scopes.push([`phase ${phase}`, base.summary.phases?.[phase], cand.summary.phases?.[phase], phaseTag(phase)]);

  const newKinds = [...outcomeKinds(cand.summary.totals)].filter((k) => !outcomeKinds(base.summary.totals).has(k));
  for (const k of newKinds) regressions.push(`new outcome: ${k} (absent in the baseline)`);

  for (const [scope, bt, ct, key] of scopes) {
    const b = bt ? stats(bt, base.handshake.get(key), options.percentiles) : null;
    const c = ct ? stats(ct, cand.handshake.get(key), options.percentiles) : null;
    rows.push({ scope, base: b, cand: c });
    if (!b || !c || b.attempted === 0 || c.attempted === 0) continue;
    const ppUp = (c.failureRate - b.failureRate) * 100;
    if (ppUp > options.failureTolerancePp) {
      regressions.push(`${scope}: failure rate ${(b.failureRate * 100).toFixed(1)}% → ${(c.failureRate * 100).toFixed(1)}% (+${ppUp.toFixed(1)} pp, tolerance ${options.failureTolerancePp} pp)`);
    }
    const samples = [base.handshake.get(key)?.totalCount ?? 0, cand.handshake.get(key)?.totalCount ?? 0];
    if (Math.min(...samples) < options.minSamples) {
      if (Math.max(...samples) > 0) warnings.push(`${scope}: handshake percentiles not compared (${samples[0]} and ${samples[1]} handshakes, fewer than --min-samples ${options.minSamples})`);
      continue;
    }
    regressions.push(...percentileRises(`${scope}: handshake`, b.p, c.p, options));
  }
  const clients = { base: clientsStats(base.summary, options.percentiles), cand: clientsStats(cand.summary, options.percentiles) };
  const judged = compareClients(clients.base, clients.cand, options);
  const messages = compareMessages(base, cand, options);
  return {
    rows,
    messages: messages.rows,
    regressions: [...regressions, ...judged.regressions, ...messages.regressions],
    warnings: [...warnings, ...judged.warnings, ...messages.warnings],
    ...(clients.cand ? { clients: { base: clients.base, cand: clients.cand } } : {}),
  };
}

/** Side-by-side text for the console. */
export function renderComparison(cmp: Comparison, base: RunSide, cand: RunSide, percentiles: number[]): string {
  const fmt = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? '-' : x.toFixed(digits));
  const out: string[] = [];
  out.push(`baseline:  ${base.dir}  (${base.summary.startedAt})`);
  out.push(`candidate: ${cand.dir}  (${cand.summary.startedAt})`);
  out.push('');
  const header = ['scope', 'attempted', 'failed %', '1011', '5xx', ...percentiles.map((q) => `p${q} ms`)];
  const cells: string[][] = [header];
  for (const r of cmp.rows) {
    const pair = (f: (s: ScopeStats) => string) => `${r.base ? f(r.base) : '-'} → ${r.cand ? f(r.cand) : '-'}`;
    cells.push([
      printable(r.scope),
      pair((s) => String(s.attempted)),
      pair((s) => (s.failureRate * 100).toFixed(1)),
      pair((s) => String(s.c1011)),
      pair((s) => String(s.http5xx)),
      ...percentiles.map((q) => pair((s) => fmt(s.p[q]))),
    ]);
  }
  out.push(...alignColumns(cells), ...renderMessageRows(cmp.messages, percentiles, printable));
  out.push('');
  if (cmp.clients) out.push(...renderClients(cmp.clients.base, cmp.clients.cand, percentiles));
  for (const w of cmp.warnings) out.push(`Note: ${w}.`);
  if (cmp.regressions.length === 0) out.push('No regression.');
  else {
    out.push(`Regressions (${cmp.regressions.length}):`);
    for (const r of cmp.regressions) out.push(`  ✗ ${r}`);
  }
  return out.join('\n');
}
