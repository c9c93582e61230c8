import { printable } from '../util/printable.js';
import { CLOSE_MEANING } from './close-codes.js';
import { formatDuration } from '../util/duration.js';
import type { LatencyStats } from '../record/histogram.js';
import { ERROR_KINDS } from '../record/attempt.js';
import type { Summary } from './summary.js';
import { codeMix } from './population-findings.js';
import { firstSpans } from '../timeline/attribute.js';

const pct = (n: number, of: number) => (of > 0 ? `${((100 * n) / of).toFixed(1)}%` : '-');
const num = (n: number) => n.toLocaleString('en-US');
const ms = (v: number | null) => (v === null ? '-' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
}

/** The human-readable summary printed after a run (and by `wsrace report`). */
export function renderSummary(s: Summary, outDir?: string): string {
  const sections = [header(s), outcomes(s), latencies(s), messages(s), clients(s), disconnects(s), steps(s), thresholds(s)];
  const out = sections.filter((lines) => lines.length > 0).flatMap((lines, i) => (i === 0 ? lines : ['', ...lines]));
  out.push('');
  // With no thresholds nothing can fail: say so rather than a bare PASS over a run where nothing worked.
  const vacuous = s.thresholds.length === 0 && s.verdict === 'pass' ? ' (no thresholds set: add some, e.g. "totals.opened > 0", for a run to fail)' : '';
  out.push(`Verdict: ${s.verdict.toUpperCase()}${vacuous}${outDir ? `   report: ${outDir}` : ''}`);
  return out.join('\n');
}

/** The run in one line, failed workers, the findings and the phase table. */
function header(s: Summary): string[] {
  const t = s.totals;
  const out: string[] = [];
  out.push(`wsrace · ${s.scenario} · ${printable(s.target.url)}`);
  // Reconnecting clients' retries are attempts beyond the schedule: counted apart, not as "4,388 of 2,000".
  const retries = s.clients?.retries ?? 0;
  const attempts = retries > 0 ? `${num(t.attempted - retries)} of ${num(s.schedule.scheduled)} scheduled attempts and ${num(retries)} retries` : `${num(t.attempted)} of ${num(s.schedule.scheduled)} scheduled attempts`;
  out.push(
    `${attempts} in ${formatDuration(s.durationMs)}, ${s.workers.length} worker${s.workers.length === 1 ? '' : 's'}` +
      (s.partial ? `  [PARTIAL${s.interruptedBy ? `: ${s.interruptedBy}` : s.abortedBy ? `: aborted by ${printable(s.abortedBy)}` : ''}]` : ''),
  );
  for (const w of s.workers) if (w.error) out.push(`  ! worker ${w.worker} failed: ${printable(w.error)}`);
  if (s.findings.length > 0) {
    out.push('');
    out.push('Findings');
    for (const f of s.findings) out.push(`  • ${printable(f, 400)}`);
  }
  if (Object.keys(s.phases).length > 0 && (s.timeline.length > 0 || Object.keys(s.phases).length > 1)) {
    out.push('');
    out.push(...phaseTable(s));
  }
  return out;
}

/** Every outcome with its count, share and what it means. */
function outcomes(s: Summary): string[] {
  const t = s.totals;
  const lines: [string, number, string][] = [];
  lines.push(['opened', t.opened, '']);
  for (const [code, n] of Object.entries(t.closeCodes).sort(([a], [b]) => Number(a) - Number(b))) {
    const reasons = (t.closeReasons[code] ?? []).map((r) => `"${printable(r, 80)}"`).join(', ');
    lines.push([`  closed ${code}`, n, reasons || (CLOSE_MEANING[code] ?? '')]);
  }
  if (t.errors.expect_timeout > 0) lines.push(['  expect_timeout', t.errors.expect_timeout, 'opened, expected message never came']);
  for (const [status, n] of Object.entries(t.httpStatus).sort()) lines.push([`http ${status}`, n, 'upgrade rejected']);
  for (const kind of ERROR_KINDS) {
    if (kind === 'expect_timeout' || t.errors[kind] === 0) continue;
    const detail = kind === 'error' ? Object.entries(t.errorCodes).map(([k, n]) => `${printable(k)} ${n}`).join(', ') : '';
    lines.push([kind, t.errors[kind], detail]);
  }
  if (t.dropped > 0) lines.push(['dropped', t.dropped, 'over the socket cap: the generator, not the target']);
  return ['Outcomes', ...lines.map(([label, n, note]) => `  ${label.padEnd(20)}${num(n).padStart(9)}  ${pct(n, t.attempted).padStart(6)}  ${note}`.trimEnd())];
}

const LATENCY_WIDTHS = [22, 8, 8, 8, 8, 8, 8, 8];

/** A latency table's header row, then `stat` adds a row per interval that has samples. */
function latencyRows(title: string): { out: string[]; stat(label: string, st: LatencyStats): void } {
  const out = ['  ' + row([title, 'count', 'min', 'p50', 'p90', 'p99', 'p99.9', 'max'], LATENCY_WIDTHS)];
  const stat = (label: string, st: LatencyStats) => {
    if (st.count === 0) return;
    out.push('  ' + row([label, num(st.count), ms(st.min), ms(st.p50), ms(st.p90), ms(st.p99), ms(st.p999), ms(st.max)], LATENCY_WIDTHS));
  };
  return { out, stat };
}

/** The latency table: one row per measured interval that has samples. */
function latencies(s: Summary): string[] {
  const { out, stat } = latencyRows('latency (ms)');
  stat('handshake (opened)', s.handshakeMs);
  stat('handshake (failed)', s.handshakeFailMs);
  stat('  tcp connect', s.tcpConnectMs);
  if (s.tlsHandshakeMs) stat('  tls handshake', s.tlsHandshakeMs);
  stat('  upgrade (tcp→101)', s.upgradeMs);
  stat('first message', s.firstMessageMs);
  stat('server close after', s.serverCloseAfterMs);
  stat('schedule lag', s.scheduleLagMs);
  if (s.loopDelayMs) stat('worker loop delay', s.loopDelayMs);
  return out;
}

/** session.stream: what became of the messages (a line per close code that took some), then their round trip and send lag. */
function messages(s: Summary): string[] {
  const m = s.messages;
  if (!m) return [];
  const line = (label: string, n: number, note = '', of = m.sent) => `  ${label.padEnd(20)}${num(n).padStart(9)}  ${pct(n, of).padStart(6)}  ${note}`.trimEnd();
  const out = ['Messages (session.stream)', `  ${'sent'.padEnd(20)}${num(m.sent).padStart(9)}`, line('  replied', m.replied), line('  late', m.late, m.late > 0 ? 'answered after within' : '')];
  out.push(line('  lost', m.lost, m.lost > 0 ? 'no reply by the socket\'s end' : ''));
  for (const [code, n] of Object.entries(m.lostByClose).sort(([a], [b]) => Number(a) - Number(b))) out.push(line(`    closed ${code}`, n, code === '1000' ? 'closed normally with replies outstanding' : (CLOSE_MEANING[code] ?? '')));
  if (m.outOfOrder > 0) out.push(line('out of order', m.outOfOrder, 'replies after a later message\'s'));
  if (m.duplicates > 0) out.push(line('duplicates', m.duplicates, 'replies to a message already answered'));
  if (m.unmatched > 0) out.push(line('unmatched', m.unmatched, 'replies answering no message sent'));
  if (m.serverGaps > 0) out.push(`  ${'server seq gaps'.padEnd(20)}${num(m.serverGaps).padStart(9)}          ${num(m.serverMissing)} numbers skipped`);
  const { out: table, stat } = latencyRows('message (ms)');
  stat('round trip', m.rttMs);
  stat('send lag', m.sendLagMs);
  if (table.length > 1) out.push('', ...table);
  return out;
}

/** " (3 gave up)" of `n` clients without a socket at the end, or " (all still retrying at the end)"; nothing when an older summary does not say. */
function gaveUp(n: number, g: number | undefined): string {
  if (n === 0 || g === undefined) return '';
  return g === 0 ? ' (all still retrying at the end)' : ` (${num(g)} gave up)`;
}

/** Reconnecting clients by the phase of their first attempt (session.reconnect). */
function clients(s: Summary): string[] {
  const c = s.clients;
  if (!c) return [];
  const cw = [22, 8, 10, 10, 10, 10];
  return [
    `Clients (reconnecting): ${num(c.clients)} clients, ${num(c.connected)} connected, ${num(c.neverConnected)} never did${gaveUp(c.neverConnected, c.gaveUp?.neverConnected)}; ${num(c.retries)} retries, ${c.attemptsPerClient.mean} attempts per client (max ${c.attemptsPerClient.max})`,
    '  ' + row(['first attempt in', 'clients', 'connected', 'p50 ttc', 'p99 ttc', 'max ttc'], cw),
    ...Object.entries(c.byPhase).map(([phase, p]) => '  ' + row([printable(phase), num(p.clients), num(p.connected), ms(p.timeToConnectedMs.p50), ms(p.timeToConnectedMs.p99), ms(p.timeToConnectedMs.max)], cw)),
    '  ' + row(['all', num(c.clients), num(c.connected), ms(c.timeToConnectedMs.p50), ms(c.timeToConnectedMs.p99), ms(c.timeToConnectedMs.max)], cw),
  ];
}

/** Disconnects (open sockets the server or the network closed; a client's once it served), by phase at close; the dropped clients and their comebacks; the herd's retries by phase. */
function disconnects(s: Summary): string[] {
  const d = s.disconnects;
  const c = s.clients;
  // Only for runs with clients (a population, session.reconnect): elsewhere the outcomes table says it all.
  if (!c || ((!d || d.total === 0) && !c.dropped)) return [];
  const out: string[] = [];
  if (d && d.total > 0) {
    out.push(`Disconnects: ${num(d.total)} (${codeMix(d.closeCodes)})`);
    for (const [phase, p] of Object.entries(d.phases)) out.push(`  ${printable(phase).padEnd(20)}${num(p.total).padStart(9)}  ${codeMix(p.closeCodes)}`);
  }
  if (c.dropped) {
    const a = c.attemptsPerReconnect;
    out.push(`Dropped clients: ${num(c.dropped)} (${num(c.drops)} drops), ${num(c.reconnected)} came back, ${num(c.neverBack)} never did${gaveUp(c.neverBack, c.gaveUp?.neverBack)}; ${a.mean ?? '-'} attempts per comeback (p99 ${a.p99 ?? '-'}, max ${a.max})`);
    const w = [22, 8, 8, 8, 8, 8];
    out.push('  ' + row(['per comeback (ms)', 'count', 'p50', 'p90', 'p99', 'max'], w));
    for (const [label, st] of [['reconnect', c.reconnectMs], ['outage', c.outageMs]] as const) out.push('  ' + row([label, num(st.count), ms(st.p50), ms(st.p90), ms(st.p99), ms(st.max)], w));
  }
  const lag = c.retryLagMs;
  if (lag && lag.count > 0) out.push(`Retries started late against their backoff: p50 ${ms(lag.p50)}, p99 ${ms(lag.p99)}, max ${ms(lag.max)} ms (${num(lag.count)} retries)`);
  const herd = c.retriesByPhase;
  if (herd && Object.keys(herd).length > 0) {
    out.push('Retries by phase (the reconnect herd)');
    for (const [phase, t] of Object.entries(herd)) {
      const failed = [...Object.entries(t.closeCodes).filter(([code]) => code !== '1000'), ...Object.entries(t.httpStatus).map(([st, n]) => [`http ${st}`, n] as const), ...Object.entries(t.errors).filter(([, n]) => n > 0)];
      out.push(`  ${printable(phase).padEnd(20)}${num(t.attempted).padStart(9)}  ${failed.map(([k, n]) => `${k} ×${num(n)}`).join(', ')}`.trimEnd());
    }
  }
  return out;
}

/** Scripted steps (session.steps): passed, timed out, closed during, and their latency. */
function steps(s: Summary): string[] {
  if (!s.steps || Object.keys(s.steps).length === 0) return [];
  const sw = [22, 8, 8, 10, 18, 10, 10, 10, 10];
  const out = ['  ' + row(['step', 'kind', 'passed', 'timeouts', 'closed during', 'p50 step', 'p99 step', 'p50 open', 'p99 open'], sw)];
  for (const [name, st] of Object.entries(s.steps)) {
    const closed = Object.entries(st.closed).map(([c, n]) => `${c}×${n}`).join(' ') || '-';
    out.push('  ' + row([printable(name), st.kind, num(st.passed), num(st.timeouts), closed, ms(st.fromStartMs.p50), ms(st.fromStartMs.p99), ms(st.fromOpenMs.p50), ms(st.fromOpenMs.p99)], sw));
  }
  return out;
}

function thresholds(s: Summary): string[] {
  if (s.thresholds.length === 0) return [];
  return ['Thresholds', ...s.thresholds.map((th) => `  ${th.ok ? 'ok  ' : 'FAIL'}  ${th.expr}   (actual ${th.actual === null ? 'none' : th.actual})`)];
}

/** Phase × outcome: rows in timeline order, one column per kind of outcome. */
export function phaseTable(s: Summary): string[] {
  const spans = firstSpans(s.timeline);
  const header = ['phase', 'from', 'attempted', 'opened', '1011', 'other close', '503', 'other http', 'refused', 'timeouts', 'p50 hs', 'p99 hs'];
  // With a stream: the messages sent in the phase, how many were lost, their round trip.
  if (s.messages) header.push('sent', 'lost', 'p99 rtt');
  const rows: string[][] = [];
  for (const [phase, b] of Object.entries(s.phases)) {
    const span = spans.get(phase);
    const closes = Object.entries(b.closeCodes).reduce((sum, [code, n]) => (code === '1000' || code === '1011' ? sum : sum + n), 0);
    const http503 = b.httpStatus['503'] ?? 0;
    const otherHttp = Object.entries(b.httpStatus).reduce((sum, [st, n]) => (st === '503' ? sum : sum + n), 0);
    const timeouts = b.errors.handshake_timeout + b.errors.expect_timeout;
    rows.push([
      phase,
      span ? `${(span.startMs / 1000).toFixed(2)}s` : '-',
      num(b.attempted),
      num(b.opened),
      num(b.closeCodes['1011'] ?? 0),
      num(closes),
      num(http503),
      num(otherHttp),
      num(b.errors.refused),
      num(timeouts),
      ms(b.handshakeMs.p50),
      ms(b.handshakeMs.p99),
    ]);
    if (s.messages) rows[rows.length - 1].push(num(b.messages?.sent ?? 0), num(b.messages?.lost ?? 0), ms(b.messages?.rttMs.p99 ?? null));
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return ['  ' + row(header, widths), ...rows.map((r) => '  ' + row(r, widths))];
}
