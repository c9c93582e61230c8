import { createHash } from 'node:crypto';
import { CLOSE_MEANING } from './close-codes.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ERROR_KINDS } from '../record/attempt.js';
import type { LatencyStats } from '../record/histogram.js';
import type { Block } from '../timeline/phase-report.js';
import { formatDuration } from '../util/duration.js';
import { phaseBands, type PhaseBand, type ReportData } from './html-data.js';
import type { Summary } from './summary.js';

/**
 * report.html: one self-contained file (uPlot and its CSS inlined, the data embedded as JSON,
 * no URL of any kind), readable offline and safe to open whatever the server sent: every string
 * from the server or the user is escaped here, and the page's script only ever sets textContent.
 * A Content-Security-Policy allows exactly the two inline scripts written here (by hash) and no
 * network at all, as a second line of defence.
 */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text or attribute value → HTML. Everything that did not come from this file goes through it.
 * Besides markup, control characters (but newline and tab) and bidi overrides/marks are shown as
 * \uXXXX, as util/printable does for the terminal, so a server's close reason cannot reorder
 * or hide what the reader sees.
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) =>
    HTML_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * JSON for a `<script type="application/json">` element: `<` (hence `</script>`, `<!--`), `>`
 * and `&` become \u escapes, and U+2028/U+2029 too, so no string in it can end the element.
 * JSON.parse of the element's text gives the value back unchanged.
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Colour and label of each per-second outcome series, bottom of the stack first. */
export const OUTCOME_STYLE = [
  { key: 'opened', label: 'worked (1000)', color: '#2e9e5b' },
  { key: 'c1011', label: '1011', color: '#d64545' },
  { key: 'otherClose', label: 'other close', color: '#f08c3a' },
  { key: 'http503', label: 'HTTP 503', color: '#8e44ad' },
  { key: 'otherHttp', label: 'other HTTP', color: '#c39bd3' },
  { key: 'refused', label: 'refused', color: '#5b6c8f' },
  { key: 'timeouts', label: 'timeouts', color: '#e3b505' },
  { key: 'other', label: 'other (reset, error, dropped, interrupted, lost)', color: '#9aa0a6' },
] as const;

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

/** What the charts need besides ReportData, computed here so the page's script stays small. */
interface ChartView {
  xMin: number;
  xMax: number;
  bands: (PhaseBand & { color: string })[];
  readyS: number | null;
  failedS: number | null;
  outcomes: typeof OUTCOME_STYLE;
}

const bucketText = (s: number) => (s >= 1 ? `${s} s` : `${Math.round(s * 1000)} ms`);

function chartView(data: ReportData): ChartView {
  const s = data.summary;
  const bands = phaseBands(s);
  const colors = phaseColors(bands);
  const t = data.perSecond.t;
  const xMin = Math.min(0, t.length ? t[0] : 0);
  const xMax = Math.max(t.length ? t[t.length - 1] + data.perSecond.bucketS : 1, s.durationMs / 1000, ...bands.map((b) => b.endS));
  return {
    xMin,
    xMax,
    bands: bands.map((b) => ({ ...b, color: colors[b.phase] })),
    readyS: s.ready?.atMs == null ? null : s.ready.atMs / 1000,
    failedS: s.failed?.atMs == null ? null : s.failed.atMs / 1000,
    outcomes: OUTCOME_STYLE,
  };
}

// ---------------------------------------------------------------- formatting

const num = (n: number | null | undefined) => (n == null ? '-' : n.toLocaleString('en-US'));
const fmtMs = (v: number | null | undefined) => (v == null ? '-' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (n: number, of: number) => (of > 0 ? `${((100 * n) / of).toFixed(1)}%` : '-');
const secs = (ms: number | null | undefined) => (ms == null ? '-' : `+${(ms / 1000).toFixed(2)} s`);

function td(content: string, cls = ''): string {
  return `<td${cls ? ` class="${cls}"` : ''}>${content}</td>`;
}
const tdNum = (content: string) => td(content, 'num');

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
  if (s.correlatedWith) rows.push(['correlated with', `<code>${escapeHtml(s.correlatedWith)}</code>`]);
  const warnings: string[] = [];
  if (s.partial) warnings.push(`<div class="warning" role="alert"><strong>Partial run</strong>${s.interruptedBy ? `: ${escapeHtml(s.interruptedBy)}` : ''}. Counts cover only what ran.</div>`);
  for (const w of s.workers) if (w.error) warnings.push(`<div class="warning">Worker ${num(w.worker)} failed: ${escapeHtml(w.error)}</div>`);
  if (data.badEventLines > 0) warnings.push(`<div class="warning">${num(data.badEventLines)} line${data.badEventLines === 1 ? '' : 's'} of events.ndjson could not be read and ${data.badEventLines === 1 ? 'is' : 'are'} left out of the charts.</div>`);
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
<section><h2>Handshake latency distribution</h2>
<p class="note">All ${num(opened)} opened handshakes, HdrHistogram percentile ticks; x is 1/(1−percentile) on a log scale.</p>
<div class="chart" data-chart="distribution"></div></section>`;
}

function blockCells(b: Block): string[] {
  const closes = Object.entries(b.closeCodes).reduce((sum, [code, n]) => (code === '1000' || code === '1011' ? sum : sum + n), 0);
  const http503 = b.httpStatus['503'] ?? 0;
  const otherHttp = Object.entries(b.httpStatus).reduce((sum, [st, n]) => (st === '503' ? sum : sum + n), 0);
  const timeouts = b.errors.handshake_timeout + b.errors.expect_timeout;
  return [
    tdNum(num(b.attempted)),
    tdNum(num(b.opened)),
    tdNum(num(b.closeCodes['1011'] ?? 0)),
    tdNum(num(closes)),
    tdNum(num(http503)),
    tdNum(num(otherHttp)),
    tdNum(num(b.errors.refused)),
    tdNum(num(timeouts)),
    tdNum(fmtMs(b.handshakeMs?.p50)),
    tdNum(fmtMs(b.handshakeMs?.p99)),
  ];
}

function phaseTableSection(s: Summary, view: ChartView): string {
  const spans = new Map(s.timeline.map((span) => [span.phase, span]));
  const colors = new Map(view.bands.map((b) => [b.phase, b.color]));
  const head = ['phase', 'from', 'attempted', 'opened', '1011', 'other close', '503', 'other HTTP', 'refused', 'timeouts', 'p50 hs (ms)', 'p99 hs (ms)'];
  const rows = Object.entries(s.phases).map(([phase, b]) => {
    const span = spans.get(phase);
    const color = colors.get(phase);
    const swatch = color ? `<span class="swatch" style="background:${escapeHtml(color)}"></span>` : '';
    return `<tr>${td(`${swatch}${escapeHtml(phase)}`, 'phase')}${tdNum(span ? `${(span.startMs / 1000).toFixed(2)} s` : '-')}${blockCells(b).join('')}</tr>`;
  });
  const foot = [
    ['before ready', s.beforeReady],
    ['after ready', s.afterReady],
  ]
    .filter(([, b]) => b)
    .map(([label, b]) => `<tr>${td(escapeHtml(label), 'phase')}${tdNum('')}${blockCells(b as Block).join('')}</tr>`);
  return `<section><h2>Phase × outcome</h2>
<p class="note">Attempts attributed to the phase in effect at their scheduled start, in timeline order.</p>
<table id="phase-table"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>
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
    if (!st) return '';
    return `<tr>${td(escapeHtml(label))}${tdNum(escapeHtml(key))}${[st.count, st.min, st.p50, st.p90, st.p99, st.p999, st.max]
      .map((v, i) => tdNum(i === 0 ? num(v) : fmtMs(v)))
      .join('')}</tr>`;
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

const CSS = `
:root { color-scheme: light; --fg: #1d2330; --muted: #677086; --line: #d9dde5; --bg: #fff; --soft: #f5f6f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 20px 20px 60px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--soft); border: 1px solid var(--line); padding: 10px; overflow: auto; max-height: 480px; white-space: pre-wrap; word-break: break-word; }
.title { display: flex; align-items: center; gap: 14px; flex-wrap: wrap; }
.badge { display: inline-block; padding: 3px 12px; border-radius: 4px; font-weight: 700; color: #fff; letter-spacing: .04em; }
.badge.small { padding: 0 7px; font-size: 12px; }
.badge.pass { background: #2e9e5b; }
.badge.fail { background: #c0392b; }
.warning { margin: 10px 0; padding: 8px 12px; background: #fff4d6; border: 1px solid #e3b505; border-radius: 4px; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 12px 0 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; word-break: break-all; }
.muted, .note { color: var(--muted); }
.note { margin: 4px 0 8px; }
ol#findings { margin: 0; padding-left: 22px; }
ol#findings li { margin: 3px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td.num, th:not(:first-child) { text-align: right; }
#totals th:last-child, #thresholds th:nth-child(2) { text-align: left; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.reasons { word-break: break-word; }
tfoot td { font-weight: 600; background: var(--soft); }
td.phase { white-space: nowrap; }
.legend { list-style: none; padding: 0; margin: 4px 0 6px; display: flex; flex-wrap: wrap; gap: 4px 16px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.swatch.line { width: 0; height: 14px; border-left: 2px dashed #1d2330; border-radius: 0; }
.chart { position: relative; width: 100%; min-height: 320px; }
.chart .error { color: #c0392b; }
.uplot .u-legend { font-size: 12.5px; }
`;

/** The page's script: builds the three charts from the embedded JSON. Sets only textContent. */
const CLIENT_JS = String.raw`(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('data').textContent);
  var R = D.report, V = D.view;
  var dpr = function () { return window.devicePixelRatio || 1; };
  var charts = [];

  function widthOf(el) { return Math.max(320, Math.floor(el.getBoundingClientRect().width)); }
  var B = R.perSecond.bucketS || 1;
  function secondLabel(u, v) { return v == null ? '--' : (v - B / 2).toFixed(B < 1 ? 2 : 0) + ' s to ' + (v + B / 2).toFixed(B < 1 ? 2 : 0) + ' s'; }
  function fmtMs(v) { return v == null ? '--' : (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ms'; }
  function hexA(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }

  // Phase bands behind the plot, a labelled strip along its top, the readiness line.
  function bandsBackground(u) {
    var ctx = u.ctx, b = u.bbox;
    ctx.save();
    V.bands.forEach(function (band) {
      var x0 = Math.max(b.left, u.valToPos(band.startS, 'x', true));
      var x1 = Math.min(b.left + b.width, u.valToPos(band.endS, 'x', true));
      if (x1 <= x0) return;
      ctx.fillStyle = hexA(band.color, 0.13);
      ctx.fillRect(x0, b.top, x1 - x0, b.height);
    });
    ctx.restore();
  }
  function bandsStrip(u, withLabels) {
    var ctx = u.ctx, b = u.bbox, h = Math.round(16 * dpr());
    ctx.save();
    ctx.font = Math.round(11 * dpr()) + 'px system-ui, sans-serif';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    V.bands.forEach(function (band) {
      var x0 = Math.max(b.left, u.valToPos(band.startS, 'x', true));
      var x1 = Math.min(b.left + b.width, u.valToPos(band.endS, 'x', true));
      if (x1 <= x0) return;
      ctx.fillStyle = hexA(band.color, 0.9);
      ctx.fillRect(x0, b.top, x1 - x0, h);
      if (withLabels && x1 - x0 > 24 * dpr()) {
        ctx.save();
        ctx.beginPath();
        ctx.rect(x0, b.top, x1 - x0, h);
        ctx.clip();
        ctx.fillStyle = '#fff';
        ctx.fillText(band.phase, x0 + 4 * dpr(), b.top + h / 2);
        ctx.restore();
      }
    });
    ctx.restore();
  }
  function marker(u, atS, color, label) {
    if (atS == null) return;
    var ctx = u.ctx, b = u.bbox, x = Math.round(u.valToPos(atS, 'x', true));
    if (x < b.left || x > b.left + b.width) return;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.lineWidth = 2 * dpr();
    ctx.setLineDash([6 * dpr(), 4 * dpr()]);
    ctx.beginPath();
    ctx.moveTo(x, b.top);
    ctx.lineTo(x, b.top + b.height);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.font = 'bold ' + Math.round(11 * dpr()) + 'px system-ui, sans-serif';
    ctx.fillStyle = color;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.fillText(label, x + 4 * dpr(), b.top + 20 * dpr());
    ctx.restore();
  }
  function timeHooks(withLabels) {
    return {
      init: [function (u) { timeCharts.push(u); }],
      setScale: [shareZoom],
      drawClear: [bandsBackground],
      draw: [function (u) {
        bandsStrip(u, withLabels);
        marker(u, V.readyS, '#1d2330', 'ready');
        marker(u, V.failedS, '#c0392b', 'failed');
      }],
    };
  }

  function make(name, build) {
    var el = document.querySelector('[data-chart="' + name + '"]');
    if (!el) return;
    try {
      var opts = build(el);
      if (!opts) return;
      var drew = false;
      opts.opts.width = widthOf(el);
      opts.opts.hooks = opts.opts.hooks || {};
      (opts.opts.hooks.draw = opts.opts.hooks.draw || []).push(function () { drew = true; });
      (opts.opts.hooks.ready = opts.opts.hooks.ready || []).push(function (u) {
        if (drew && u.ctx.canvas.width > 0 && u.ctx.canvas.height > 0) el.setAttribute('data-drawn', 'true');
      });
      charts.push({ el: el, u: new uPlot(opts.opts, opts.data, el) });
    } catch (err) {
      var p = document.createElement('p');
      p.className = 'error';
      p.textContent = 'Could not draw this chart: ' + (err && err.message ? err.message : String(err));
      el.appendChild(p);
      console.error(err);
    }
  }
  function empty(el, text) {
    var p = document.createElement('p');
    p.className = 'muted';
    p.textContent = text;
    el.appendChild(p);
    el.setAttribute('data-empty', 'true');
    el.style.minHeight = '0';
    return null;
  }

  // The whole run by default (and on double-click reset); a drag-zoom inside it is kept.
  var xRange = {
    time: false,
    range: function (u, min, max) {
      var d = u.data[0];
      if (min == null || max == null || !d.length || (min <= d[0] && max >= d[d.length - 1])) return [V.xMin, V.xMax];
      return [min, max];
    },
  };
  var timeCharts = [], zooming = false;
  // Zooming one time chart zooms the other: they share the x axis.
  function shareZoom(u, key) {
    if (key !== 'x' || zooming) return;
    zooming = true;
    timeCharts.forEach(function (o) { if (o !== u) o.setScale('x', { min: u.scales.x.min, max: u.scales.x.max }); });
    zooming = false;
  }
  var xAxis = { label: 'seconds since T0', values: function (u, vals) { return vals.map(function (v) { return v + ' s'; }); } };
  var sync = { key: 'wsrace-time', setSeries: false };

  make('timeline', function () {
    var ps = R.perSecond;
    // Stacked bars: each series holds the running total; band i gives bar i its lower edge.
    var running = ps.t.map(function () { return 0; });
    // Counts per bucket, drawn as a rate (per second) so the axis reads the same for any bucket.
    var stacked = V.outcomes.map(function (o) {
      running = running.map(function (r, i) { return r + ps[o.key][i] / B; });
      return running.slice();
    });
    var top = running.reduce(function (a, b) { return Math.max(a, b); }, 0);
    // Each bar is centred on its second's middle, so the cursor picks the bar it is over.
    var bars = uPlot.paths.bars({ align: 0, size: [0.92, Infinity] });
    var series = [{ label: 'time', value: secondLabel }];
    V.outcomes.forEach(function (o) {
      series.push({
        label: o.label,
        stroke: o.color,
        fill: o.color,
        width: 0,
        paths: bars,
        points: { show: false },
        value: function (u, v, si, i) { return i == null ? '--' : ps[o.key][i]; },
      });
    });
    var bands = V.outcomes.slice(1).map(function (o, i) { return { series: [i + 2, i + 1] }; });
    // Reconnecting clients: the retry load as a line over the bars (not part of the stack).
    var hasRetries = (ps.retries || []).some(function (n) { return n > 0; });
    if (hasRetries) {
      series.push({ label: 'retries', stroke: '#111', width: 2, dash: [6, 4], points: { show: false }, value: function (u, v, si, i) { return i == null ? '--' : ps.retries[i]; } });
      stacked.push(ps.retries.map(function (n) { return n / B; }));
      top = Math.max(top, ps.retries.reduce(function (a, b) { return Math.max(a, b / B); }, 0));
    }
    return {
      data: [ps.t.map(function (t) { return t + B / 2; })].concat(stacked),
      opts: {
        height: 340,
        cursor: { sync: sync, points: { show: false } },
        scales: { x: xRange, y: { range: function () { return [0, Math.max(1, top) * 1.2]; } } },
        axes: [xAxis, { label: 'attempts per second', size: 56 }],
        series: series,
        bands: bands,
        hooks: timeHooks(true),
      },
    };
  });

  make('latency', function (el) {
    var h = R.handshakeOverTime;
    if (!h.count.some(function (c) { return c > 0; })) return empty(el, 'No attempt opened: no handshake latency to plot.');
    var mid = h.t.map(function (t) { return t + B / 2; });
    return {
      data: [mid, h.p50, h.p99],
      opts: {
        height: 300,
        cursor: { sync: sync },
        scales: { x: xRange, y: { range: function (u, min, max) { return [0, Math.max(1, max || 0) * 1.15]; } } },
        axes: [xAxis, { label: 'handshake (ms)', size: 56 }],
        series: [
          { label: 'time', value: secondLabel },
          { label: 'p50', stroke: '#4e79a7', width: 2, points: { show: true, size: 5 }, value: function (u, v) { return fmtMs(v); } },
          { label: 'p99', stroke: '#d64545', width: 2, points: { show: true, size: 5 }, value: function (u, v) { return fmtMs(v); } },
        ],
        hooks: timeHooks(false),
      },
    };
  });

  make('distribution', function (el) {
    var pts = R.distribution;
    if (pts.length === 0) return empty(el, 'No attempt opened: no handshake distribution.');
    // x = 1/(1 - percentile); the 100% row (infinite) is drawn one doubling past the last finite one.
    var xs = [], lastX = 1;
    pts.forEach(function (p) {
      var x = p.percentile >= 100 ? Math.max(2, lastX * 2) : 1 / (1 - p.percentile / 100);
      xs.push(x);
      if (p.percentile < 100) lastX = x;
    });
    var xMax = Math.pow(10, Math.ceil(Math.log10(Math.max(10, xs[xs.length - 1]))));
    var pctLabel = function (v) {
      var p = 100 * (1 - 1 / v);
      return (Math.round(p * 1000) / 1000) + '%';
    };
    return {
      data: [xs, pts.map(function (p) { return p.valueMs; })],
      opts: {
        height: 300,
        cursor: { points: { size: 7 } },
        scales: { x: { time: false, distr: 3, log: 10, range: function () { return [1, xMax]; } }, y: { range: function (u, min, max) { return [0, Math.max(0.001, max || 0) * 1.1]; } } },
        axes: [
          { label: 'percentile', values: function (u, vals) { return vals.map(function (v) { return v == null ? '' : pctLabel(v); }); } },
          { label: 'handshake (ms)', size: 56 },
        ],
        series: [
          { label: 'percentile', value: function (u, v, si, i) { return i == null ? '--' : pts[i].percentile + '% (' + pts[i].count + ')'; } },
          { label: 'handshake (opened)', stroke: '#4e79a7', width: 2, fill: 'rgba(78,121,167,0.08)', points: { show: false }, value: function (u, v) { return fmtMs(v); } },
        ],
      },
    };
  });

  var pending = null;
  window.addEventListener('resize', function () {
    if (pending) cancelAnimationFrame(pending);
    pending = requestAnimationFrame(function () {
      charts.forEach(function (c) { c.u.setSize({ width: widthOf(c.el), height: c.u.height }); });
    });
  });
})();`;

let uplotAssets: { js: string; css: string } | null = null;

/** uPlot's IIFE build and CSS from node_modules, read once. */
function uplot(): { js: string; css: string } {
  if (!uplotAssets) {
    const require = createRequire(import.meta.url);
    uplotAssets = {
      js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return uplotAssets;
}

/** Inline script text, checked to be unable to end its element early; CR LF as the parser sees it. */
function inlineScript(js: string): string {
  const text = js.replace(/\r\n?/g, '\n');
  if (/<\/script|<!--/i.test(text)) throw new Error('inline script contains "</script" or "<!--"');
  return text;
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The whole report page. */
export function renderHtmlReport(data: ReportData): string {
  const s = data.summary;
  const view = chartView(data);
  const assets = uplot();
  const uplotJs = inlineScript(assets.js);
  const clientJs = inlineScript(CLIENT_JS);
  const css = `${assets.css}\n${CSS}`;
  if (/<\/style/i.test(css)) throw new Error('inline CSS contains "</style"');
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
${phaseTableSection(s, view)}
${totalsSection(s)}
${scenarioSection(s, data)}
<footer class="muted"><p>wsrace report · ${escapeHtml(s.schema)} · generated from summary.json and events.ndjson</p></footer>
</main>
<script type="application/json" id="data">${embedJson({ report: data, view })}</script>
<script>${uplotJs}</script>
<script>${clientJs}</script>
</body>
</html>
`;
}
