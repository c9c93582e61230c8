import { createHash } from 'node:crypto';
import { CLOSE_MEANING } from './close-codes.js';
import { ERROR_KINDS } from '../record/attempt.js';
import type { LatencyStats } from '../record/histogram.js';
import type { Block } from '../timeline/phase-report.js';
import { firstSpans } from '../timeline/attribute.js';
import { blockCells, bucketText, escapeHtml, fmtMs, num, pct, secs, td, tdNum } from './html-markup.js';
import { populationEndS, populationSections, populationView } from './html-population.js';

export { escapeHtml } from './html-markup.js';
import { formatDuration } from '../util/duration.js';
import { phaseBands, type ReportData } from './html-data.js';
import { pageAssets } from './html/assets.js';
import type { ChartView, OutcomeStyle, PageData, PhaseBand } from './html/page-data.js';
import type { Summary } from './summary.js';

/**
 * report.html: one self-contained file (uPlot and its CSS inlined, the data embedded as JSON,
 * no URL of any kind), readable offline and safe to open whatever the server sent: every string
 * from the server or the user is escaped here, and the page's script only ever sets textContent.
 * A Content-Security-Policy allows exactly the two inline scripts written here (by hash) and no
 * network at all, as a second line of defence. The page's script and style are html/client.js
 * and html/style.css; html/assets.ts reads them for inlining.
 */

/**
 * JSON for a `<script type="application/json">` element: `<` (hence `</script>`, `<!--`), `>`
 * and `&` become \u escapes, and U+2028/U+2029 too, so no string in it can end the element.
 * JSON.parse of the element's text gives the value back unchanged.
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Colour and label of each per-second outcome series, bottom of the stack first. */
export const OUTCOME_STYLE: readonly OutcomeStyle[] = [
  { key: 'opened', label: 'worked (1000)', color: '#2e9e5b' },
  { key: 'c1011', label: '1011', color: '#d64545' },
  { key: 'otherClose', label: 'other close', color: '#f08c3a' },
  { key: 'http503', label: 'HTTP 503', color: '#8e44ad' },
  { key: 'otherHttp', label: 'other HTTP', color: '#c39bd3' },
  { key: 'refused', label: 'refused', color: '#5b6c8f' },
  { key: 'timeouts', label: 'timeouts', color: '#e3b505' },
  { key: 'other', label: 'other (reset, error, dropped, interrupted, lost)', color: '#9aa0a6' },
];

const PHASE_PALETTE = ['#4e79a7', '#f28e2b', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#86bcb6', '#d4a6c8', '#a0cbe8'];
const FIXED_PHASE_COLOR: Record<string, string> = { unknown: '#bab0ac', ready: '#59a14f', failed: '#e15759' };

/** Band colours: fixed for unknown/ready/failed, the palette in timeline order for the target's own phases. */
export function phaseColors(bands: readonly PhaseBand[]): Record<string, string> {
  const colors: Record<string, string> = {};
  let next = 0;
  for (const b of bands) {
    if (b.phase in colors) continue;
    colors[b.phase] = Object.hasOwn(FIXED_PHASE_COLOR, b.phase) ? FIXED_PHASE_COLOR[b.phase] : PHASE_PALETTE[next++ % PHASE_PALETTE.length];
  }
  return colors;
}

function chartView(data: ReportData): ChartView {
  const s = data.summary;
  const bands = phaseBands(s);
  const colors = phaseColors(bands);
  const t = data.perSecond.t;
  const xMin = Math.min(0, t.length ? t[0] : 0);
  const xMax = Math.max(t.length ? t[t.length - 1] + data.perSecond.bucketS : 1, s.durationMs / 1000, ...bands.map((b) => b.endS), populationEndS(data.population));
  // Messages can be sent after the last attempt's bucket (for as long as sockets are held).
  const m = data.messagesOverTime?.t ?? [];
  return {
    ...(data.population ? populationView(data.population, OUTCOME_STYLE) : {}),
    xMin: m.length ? Math.min(xMin, m[0]) : xMin,
    xMax: m.length ? Math.max(xMax, m[m.length - 1] + data.perSecond.bucketS) : xMax,
    bands: bands.map((b) => ({ ...b, color: colors[b.phase] })),
    readyS: s.ready?.atMs == null ? null : s.ready.atMs / 1000,
    failedS: s.failed?.atMs == null ? null : s.failed.atMs / 1000,
    outcomes: OUTCOME_STYLE,
  };
}

// ---------------------------------------------------------------- formatting

// ---------------------------------------------------------------- sections

function header(s: Summary, data: ReportData): string {
  const t = s.totals;
  const headers = Object.entries(s.target.headers ?? {});
  const rows: [string, string][] = [
    ['target', `<code>${escapeHtml(s.target.url)}</code>`],
    ...(headers.length ? [['headers', headers.map(([k, v]) => `<code>${escapeHtml(k)}: ${escapeHtml(v)}</code>`).join('<br>')] as [string, string]] : []),
    ...(s.target.subprotocols?.length ? [['subprotocols', s.target.subprotocols.map((p) => `<code>${escapeHtml(p)}</code>`).join(', ')] as [string, string]] : []),
    ['T0', `${escapeHtml(s.t0)} <span class="muted">(started ${escapeHtml(s.startedAt)})</span>`],
    ['duration', `${escapeHtml(formatDuration(s.durationMs))} <span class="muted">from T0</span>`],
    ['attempts', `${num(t.attempted)} of ${num(s.schedule.scheduled)} scheduled, ${num(s.workers.length)} worker${s.workers.length === 1 ? '' : 's'}, peak ${num(s.schedule.peakRate)}/s`],
    ['ready', s.ready?.atMs == null ? 'not observed' : `${secs(s.ready.atMs)} <span class="muted">(${escapeHtml(s.ready.source ?? '?')})</span>`],
    ['scenario file', `<code>${escapeHtml(s.scenarioFile)}</code>`],
  ];
  if (s.limits) rows.push(['limits', `open files ${num(s.limits.openFiles)}, socket cap ${num(s.limits.maxSockets)}`]);
  if (s.restarts?.length) rows.push(['later startups', s.restarts.map((r) => `${secs(r.startMs)} → ${r.readyAtMs !== null ? `ready ${secs(r.readyAtMs)}` : r.failedAtMs !== null ? `failed ${secs(r.failedAtMs)}` : 'not ready by the end'}`).join('<br>')]);
  if (s.correlatedWith) rows.push(['correlated with', `<code>${escapeHtml(s.correlatedWith)}</code>`]);
  const warnings: string[] = [];
  if (s.partial) warnings.push(`<div class="warning" role="alert"><strong>Partial run</strong>${s.interruptedBy ? `: ${escapeHtml(s.interruptedBy)}` : s.abortedBy ? `: stopped by threshold ${escapeHtml(s.abortedBy)}` : ''}. Counts cover only what ran.</div>`);
  for (const w of s.workers) if (w.error) warnings.push(`<div class="warning">Worker ${num(w.worker)} failed: ${escapeHtml(w.error)}</div>`);
  for (const [file, bad] of [['events.ndjson', data.badEventLines], ['messages.ndjson', data.badMessageLines ?? 0]] as const) {
    if (bad > 0) warnings.push(`<div class="warning">${num(bad)} line${bad === 1 ? '' : 's'} of ${file} could not be read and ${bad === 1 ? 'is' : 'are'} left out of the charts.</div>`);
  }
  return `<header>
<div class="title"><h1>wsrace · <span id="scenario-name">${escapeHtml(s.scenario)}</span></h1><span class="badge ${s.verdict === 'pass' ? 'pass' : 'fail'}" id="verdict">${s.verdict === 'pass' ? 'PASS' : 'FAIL'}</span></div>
${warnings.join('\n')}
<dl class="facts">${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join('')}</dl>
</header>`;
}

function findingsSection(s: Summary): string {
  const items = s.findings.length ? `<ol id="findings">${s.findings.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ol>` : '<p id="findings" class="muted">No findings.</p>';
  return `<section><h2>Findings</h2>${items}</section>`;
}

function phaseLegend(view: ChartView): string {
  if (view.bands.length === 0) return '<p class="muted">No startup timeline for this run (no phase or readiness source).</p>';
  return `<ul class="legend phases">${view.bands
    .map((b) => `<li><span class="swatch" style="background:${escapeHtml(b.color)}"></span>${escapeHtml(b.phase)} <span class="muted">${b.startS.toFixed(2)}–${b.endS.toFixed(2)} s</span></li>`)
    .join('')}${view.readyS !== null ? '<li><span class="swatch line"></span>ready marker</li>' : ''}</ul>`;
}

function chartsSections(view: ChartView, data: ReportData): string {
  const opened = data.summary.handshakeMs?.count ?? 0;
  return `<section><h2>Timeline</h2>
<p class="note">Attempts by scheduled start (since T0) in ${escapeHtml(bucketText(data.perSecond.bucketS))} buckets, drawn as attempts per second, stacked by outcome, over the target's startup phases. The dashed line is readiness.</p>
${phaseLegend(view)}
<div class="chart" data-chart="timeline"></div></section>
<section><h2>Handshake latency over time</h2>
<p class="note">p50 and p99 of scheduled start → open, for the attempts that opened, per ${escapeHtml(bucketText(data.perSecond.bucketS))} of scheduled start (exact nearest-rank values within each bucket).</p>
<div class="chart" data-chart="latency"></div></section>
${messageCharts(data)}<section><h2>Handshake latency distribution</h2>
<p class="note">All ${num(opened)} opened handshakes, HdrHistogram percentile ticks; x is 1/(1−percentile) on a log scale.</p>
<div class="chart" data-chart="distribution"></div></section>`;
}

/** session.stream's two time charts (none without a stream). */
function messageCharts(data: ReportData): string {
  if (!data.messagesOverTime) return '';
  const bucket = escapeHtml(bucketText(data.perSecond.bucketS));
  return `<section><h2>Message round trip over time</h2>
<p class="note">session.stream: p50 and p99 of send → reply (late replies included) for the messages sent in each ${bucket} since T0, over the target's startup phases (nearest-rank, within 1%).</p>
<div class="chart" data-chart="message-rtt"></div></section>
<section><h2>Lost messages over time</h2>
<p class="note">Messages that got no reply by their socket's end (lost) or one after <code>within</code> (late), by the ${bucket} they were sent in.</p>
<div class="chart" data-chart="message-loss"></div></section>
`;
}

/** With a stream, the phase table's last three columns: messages sent in the phase, lost, round-trip p99. */
function messageCells(b: Block): string[] {
  return [tdNum(num(b.messages?.sent ?? 0)), tdNum(num(b.messages?.lost ?? 0)), tdNum(fmtMs(b.messages?.rttMs.p99))];
}

function phaseTableSection(s: Summary, view: ChartView): string {
  const spans = firstSpans(s.timeline);
  const colors = new Map(view.bands.map((b) => [b.phase, b.color]));
  const head = ['phase', 'from', 'attempted', 'opened', '1011', 'other close', '503', 'other HTTP', 'refused', 'timeouts', 'p50 hs (ms)', 'p99 hs (ms)'];
  if (s.messages) head.push('sent', 'lost', 'p99 rtt (ms)');
  const cells = (b: Block) => (s.messages ? [...blockCells(b), ...messageCells(b)] : blockCells(b)).join('');
  const rows = Object.entries(s.phases).map(([phase, b]) => {
    const span = spans.get(phase);
    const color = colors.get(phase);
    const swatch = color ? `<span class="swatch" style="background:${escapeHtml(color)}"></span>` : '';
    return `<tr>${td(`${swatch}${escapeHtml(phase)}`, 'phase')}${tdNum(span ? `${(span.startMs / 1000).toFixed(2)} s` : '-')}${cells(b)}</tr>`;
  });
  const foot = [
    ['before ready', s.beforeReady],
    ['after ready', s.afterReady],
  ]
    .filter(([, b]) => b)
    .map(([label, b]) => `<tr>${td(escapeHtml(label), 'phase')}${tdNum('')}${cells(b as Block)}</tr>`);
  const messagesNote = s.messages ? ' Messages (sent, lost, round trip) by the phase in effect when each was sent.' : '';
  return `<section><h2>Phase × outcome</h2>
<p class="note">Attempts attributed to the phase in effect at their scheduled start, in timeline order.${messagesNote}</p>
<table id="phase-table"${s.messages ? ' class="with-messages"' : ''}><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>${rows.join('\n')}</tbody>${foot.length ? `<tfoot>${foot.join('')}</tfoot>` : ''}</table></section>`;
}


function totalsSection(s: Summary): string {
  const t = s.totals;
  const rows: [string, number, string][] = [['opened', t.opened, '']];
  for (const [code, n] of Object.entries(t.closeCodes).sort(([a], [b]) => Number(a) - Number(b))) {
    const reasons = (t.closeReasons[code] ?? []).map((r) => `<q>${escapeHtml(r)}</q>`).join(', ');
    rows.push([`closed ${escapeHtml(code)}`, n, reasons || escapeHtml(CLOSE_MEANING[code] ?? '')]);
  }
  for (const [status, n] of Object.entries(t.httpStatus).sort(([a], [b]) => Number(a) - Number(b))) rows.push([`HTTP ${escapeHtml(status)}`, n, 'upgrade rejected']);
  for (const kind of ERROR_KINDS) {
    if ((t.errors[kind] ?? 0) === 0) continue;
    const detail =
      kind === 'error'
        ? Object.entries(t.errorCodes)
            .map(([k, n]) => `${escapeHtml(k)} ${num(n)}`)
            .join(', ')
        : kind === 'expect_timeout'
          ? 'opened, expected message never came'
          : '';
    rows.push([escapeHtml(kind), t.errors[kind], detail]);
  }
  if (t.dropped > 0) rows.push(['dropped', t.dropped, 'over the socket cap: the generator, not the target']);
  const body = rows.map(([label, n, note]) => `<tr>${td(label)}${tdNum(num(n))}${tdNum(pct(n, t.attempted))}${td(note, 'reasons')}</tr>`).join('\n');
  const thresholds = s.thresholds.length
    ? `<h3>Thresholds</h3><table id="thresholds"><thead><tr><th>threshold</th><th>result</th><th>actual</th></tr></thead><tbody>${s.thresholds
        .map((th) => `<tr>${td(`<code>${escapeHtml(th.expr)}</code>`)}${td(`<span class="badge small ${th.ok ? 'pass' : 'fail'}">${th.ok ? 'ok' : 'FAIL'}</span>`)}${tdNum(th.actual === null ? 'none' : escapeHtml(th.actual))}</tr>`)
        .join('')}</tbody></table>`
    : '<h3>Thresholds</h3><p class="muted">None set.</p>';
  return `<section><h2>Totals</h2>
<table id="totals"><thead><tr><th>outcome</th><th>count</th><th>share</th><th>detail</th></tr></thead><tbody>${body}</tbody>
<tfoot><tr>${td('attempted')}${tdNum(num(t.attempted))}${tdNum('')}${td('')}</tr></tfoot></table>
${thresholds}</section>`;
}

/** session.stream's messages: every fate with its share, then the round trip and send lag (none without a stream). */
function messagesSection(s: Summary): string {
  const m = s.messages;
  if (!m) return '';
  const rows: [string, number, string][] = [
    ['replied', m.replied, ''],
    ['late', m.late, m.late > 0 ? 'answered after <code>within</code>' : ''],
    ['lost', m.lost, m.lost > 0 ? "no reply by the socket's end" : ''],
  ];
  for (const [code, n] of Object.entries(m.lostByClose).sort(([a], [b]) => Number(a) - Number(b))) {
    rows.push([`&nbsp;&nbsp;lost, closed ${escapeHtml(code)}`, n, code === '1000' ? 'closed normally with replies outstanding' : escapeHtml(CLOSE_MEANING[code] ?? '')]);
  }
  if (m.outOfOrder > 0) rows.push(['out of order', m.outOfOrder, "replies after a later message's"]);
  if (m.duplicates > 0) rows.push(['duplicates', m.duplicates, 'replies to a message already answered']);
  if (m.unmatched > 0) rows.push(['unmatched', m.unmatched, 'replies answering no message sent']);
  if (m.serverGaps > 0) rows.push(['server sequence gaps', m.serverGaps, `${num(m.serverMissing)} numbers skipped (session.serverSeq)`]);
  const body = rows.map(([label, n, note]) => `<tr>${td(label)}${tdNum(num(n))}${tdNum(pct(n, m.sent))}${td(note, 'reasons')}</tr>`).join('\n');
  const latency = ([['message round trip', 'messages.rttMs', m.rttMs], ['message send lag', 'messages.sendLagMs', m.sendLagMs]] as const).map(([label, key, st]) => latencyRow(label, key, st)).join('\n');
  return `<section><h2>Messages</h2>
<p class="note">session.stream: every message sent ends replied, late or lost.</p>
<table id="messages"><thead><tr><th>fate</th><th>count</th><th>share</th><th>detail</th></tr></thead><tbody>${body}</tbody>
<tfoot><tr>${td('sent')}${tdNum(num(m.sent))}${tdNum('')}${td('')}</tr></tfoot></table>
<table id="message-latency"><thead><tr><th>latency (ms)</th><th>summary key</th><th>count</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr></thead><tbody>${latency}</tbody></table></section>
`;
}

/** A row of a latency table: label, summary key, count and the percentiles. */
function latencyRow(label: string, key: string, st: LatencyStats): string {
  return `<tr>${td(escapeHtml(label))}${tdNum(escapeHtml(key))}${[st.count, st.min, st.p50, st.p90, st.p99, st.p999, st.max].map((v, i) => tdNum(i === 0 ? num(v) : fmtMs(v))).join('')}</tr>`;
}

const LATENCY_BLOCKS: [keyof Summary & `${string}Ms`, string][] = [
  ['handshakeMs', 'handshake (opened)'],
  ['handshakeFailMs', 'handshake (failed)'],
  ['tcpConnectMs', 'tcp connect'],
  ['upgradeMs', 'upgrade (tcp → 101)'],
  ['firstMessageMs', 'first message'],
  ['serverCloseAfterMs', 'server close after'],
  ['scheduleLagMs', 'schedule lag'],
  ['loopDelayMs', 'worker loop delay'],
];

function scenarioSection(s: Summary, data: ReportData): string {
  const latencyRows = LATENCY_BLOCKS.map(([key, label]) => {
    const st = s[key] as LatencyStats | undefined;
    return st ? latencyRow(label, key, st) : '';
  }).join('\n');
  const scenario =
    data.scenario === null
      ? `<p class="muted">No scenario.json in the run folder (scenario file: <code>${escapeHtml(s.scenarioFile)}</code>).</p>`
      : `<pre id="scenario">${escapeHtml(JSON.stringify(data.scenario, null, 2))}</pre>`;
  return `<section><h2>Latency (summary.json)</h2>
<table id="latency-table"><thead><tr><th>latency (ms)</th><th>summary key</th><th>count</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr></thead><tbody>${latencyRows}</tbody></table></section>
<section><h2>Scenario used</h2>${scenario}</section>`;
}

// ---------------------------------------------------------------- page

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The whole report page. */
export function renderHtmlReport(data: ReportData): string {
  const s = data.summary;
  const view = chartView(data);
  const { uplotJs, clientJs, css } = pageAssets();
  const page: PageData = { report: data, view };
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(uplotJs)} ${sha256(clientJs)}`,
    "style-src 'unsafe-inline'",
    "img-src 'none'",
    "connect-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsrace · ${escapeHtml(s.scenario)} · ${s.verdict === 'pass' ? 'PASS' : 'FAIL'}</title>
<style>${css}</style>
</head>
<body>
<main>
${header(s, data)}
${findingsSection(s)}
${chartsSections(view, data)}
${populationSections(s, view, data)}
${phaseTableSection(s, view)}
${totalsSection(s)}
${messagesSection(s)}${scenarioSection(s, data)}
<footer class="muted"><p>wsrace report · ${escapeHtml(s.schema)} · generated from summary.json and events.ndjson${data.messagesOverTime ? ' and messages.ndjson' : ''}</p></footer>
</main>
<script type="application/json" id="data">${embedJson(page)}</script>
<script>${uplotJs}</script>
<script>${clientJs}</script>
</body>
</html>
`;
}
