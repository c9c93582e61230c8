import type { LatencyStats } from '../record/histogram.js';
import type { ReportData } from './html-data.js';
import { blockCells, bucketText, escapeHtml, fmtMs, num, td, tdNum } from './html-markup.js';
import type { ChartView, OutcomeStyle, PopulationSeries } from './html/page-data.js';
import type { Summary } from './summary.js';
import { stoppedOrStill } from './population-findings.js';

/**
 * report.html's sections for a connected population (load.population): connected clients over
 * time, disconnects by close code over time and by phase, and the reconnect herd. A run without
 * a population has none of them.
 */

const CODE_COLOR: Record<string, string> = { '1001': '#4e79a7', '1006': '#9c755f', '1011': '#d64545', '1012': '#f08c3a', '1013': '#b07aa1', other: '#9aa0a6' };
const CODE_PALETTE = ['#76b7b2', '#edc948', '#ff9da7', '#86bcb6', '#a0cbe8', '#d4a6c8'];

/** Colours of the disconnect series (fixed for the codes a deploy brings, a palette for the rest) and the herd's outcome labels. */
export function populationView(pop: PopulationSeries, outcomes: readonly OutcomeStyle[]): Pick<ChartView, 'closeCodes' | 'herdOutcomes'> {
  let next = 0;
  const closeCodes = pop.disconnects.map(({ code }) => ({ code, color: CODE_COLOR[code] ?? CODE_PALETTE[next++ % CODE_PALETTE.length] }));
  const herdOutcomes = outcomes.map((o) => (o.key === 'opened' ? { ...o, label: 'worked' } : o));
  return { closeCodes, herdOutcomes };
}

/** The last bucket's end, so the shared time axis covers the population's series too. */
export function populationEndS(pop: PopulationSeries | undefined): number {
  return pop && pop.t.length ? pop.t[pop.t.length - 1] + pop.bucketS : 0;
}

export function populationSections(s: Summary, view: ChartView, data: ReportData): string {
  const pop = data.population;
  if (!pop) return '';
  const b = escapeHtml(bucketText(pop.bucketS));
  return `<section><h2>Connected clients</h2>
<p class="note">Sockets open at the end of each ${b} (opened before it ended, closed after), over the target's startup phases: the population's connected clients, and the arrivals' sockets (load.stages beside the population) as a dashed line when there are any.</p>
<div class="chart" data-chart="connected"></div></section>
<section><h2>Disconnects</h2>
<p class="note">Established sockets closed by the server or the network (not by wsrace), per second, by the ${b} they closed in and their close code.</p>
<div class="chart" data-chart="disconnects"></div>
${disconnectTable(s, view)}</section>
<section><h2>Reconnect herd</h2>
<p class="note">Retries (every attempt after a client's first) per second by scheduled start, stacked by outcome: "worked" is a socket that served its client, whatever closed it later.</p>
<div class="chart" data-chart="herd"></div>
${clientsTable(s)}
${herdTable(s)}</section>`;
}

/** Disconnects by the phase they closed in (timeline order) and close code. */
function disconnectTable(s: Summary, view: ChartView): string {
  const d = s.disconnects;
  if (!d || d.total === 0) return '<p class="muted" id="disconnects-table">No disconnects.</p>';
  const codes = Object.keys(d.closeCodes).sort((a, b) => Number(a) - Number(b));
  const order = [...new Set([...view.bands.map((x) => x.phase), ...Object.keys(d.phases)])].filter((p) => d.phases[p]);
  const row = (label: string, x: { total: number; closeCodes: Record<string, number> }) => `<tr>${td(escapeHtml(label), 'phase')}${tdNum(num(x.total))}${codes.map((c) => tdNum(num(x.closeCodes[c] ?? 0))).join('')}</tr>`;
  return `<h3>Disconnects by phase and code</h3>
<table id="disconnects-table"><thead><tr><th>phase at close</th><th>total</th>${codes.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead>
<tbody>${order.map((p) => row(p, d.phases[p])).join('\n')}</tbody><tfoot>${row('all', d)}</tfoot></table>`;
}

const stat = (label: string, st: LatencyStats | undefined) =>
  st ? `<tr>${td(escapeHtml(label))}${tdNum(num(st.count))}${[st.p50, st.p90, st.p99, st.max].map((v) => tdNum(fmtMs(v))).join('')}</tr>` : '';

/** The findings' words for who of the clients not back had stopped retrying, muted after the count; nothing when they have none. */
function stoppedOrNot(n: number, stopped: number | undefined): string {
  const text = stoppedOrStill(n, stopped);
  return text === null ? '' : ` <span class="muted">(${text})</span>`;
}

/** What the dropped clients felt: how many came back, how long it took, the attempts it took. */
function clientsTable(s: Summary): string {
  const c = s.clients;
  if (!c) return '';
  const a = c.attemptsPerReconnect;
  const facts: [string, string][] = [
    ['clients', num(c.clients)],
    ['dropped', `${num(c.dropped)} <span class="muted">(${num(c.drops)} drops)</span>`],
    ['came back', num(c.reconnected)],
    ['never came back', `${num(c.neverBack)}${stoppedOrNot(c.neverBack, c.gaveUp?.neverBack)}`],
    ['attempts per comeback', a ? `mean ${a.mean ?? '-'}, p99 ${a.p99 ?? '-'}, max ${num(a.max)}` : '-'],
  ];
  // Absent in summaries written before it; a run without retries has none to show.
  const lag = c.retryLagMs;
  if (lag && lag.count > 0) facts.push(['retries started late (retryLagMs)', `p50 ${fmtMs(lag.p50)}, p99 ${fmtMs(lag.p99)}, max ${fmtMs(lag.max)} ms <span class="muted">(${num(lag.count)} retries)</span>`]);
  return `<h3>Dropped clients</h3>
<dl class="facts" id="clients-table">${facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join('')}</dl>
<table id="comeback-table"><thead><tr><th>per comeback (ms)</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead>
<tbody>${stat('drop → a working socket (reconnectMs)', c.reconnectMs)}${stat('drop → back, answered (outageMs)', c.outageMs)}</tbody></table>`;
}

/** The herd's retries by the phase they were scheduled in, counted like the phase table. */
function herdTable(s: Summary): string {
  const r = s.clients?.retriesByPhase;
  if (!r || Object.keys(r).length === 0) return '';
  const head = ['phase', 'attempted', 'opened', '1011', 'other close', '503', 'other HTTP', 'refused', 'timeouts'];
  const rows = Object.entries(r).map(([phase, t]) => `<tr>${td(escapeHtml(phase), 'phase')}${blockCells(t).slice(0, 8).join('')}</tr>`);
  return `<h3>Retries by phase</h3>
<table id="herd-table"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}
