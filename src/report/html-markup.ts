import type { Totals } from '../record/totals.js';
import type { Block } from '../timeline/phase-report.js';

/** HTML building blocks of report.html's sections (html.ts, html-population.ts). */

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

export const num = (n: number | null | undefined) => (n == null ? '-' : n.toLocaleString('en-US'));
export const fmtMs = (v: number | null | undefined) => (v == null ? '-' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
export const pct = (n: number, of: number) => (of > 0 ? `${((100 * n) / of).toFixed(1)}%` : '-');
export const secs = (ms: number | null | undefined) => (ms == null ? '-' : `+${(ms / 1000).toFixed(2)} s`);

/** A chart bucket's length in words. */
export const bucketText = (s: number) => (s >= 1 ? `${s} s` : `${Math.round(s * 1000)} ms`);

export function td(content: string, cls = ''): string {
  return `<td${cls ? ` class="${cls}"` : ''}>${content}</td>`;
}
export const tdNum = (content: string) => td(content, 'num');

/** A block's outcome cells, as the phase table shows them (a bare Totals has no handshake column values). */
export function blockCells(b: Totals & Partial<Pick<Block, 'handshakeMs'>>): string[] {
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
