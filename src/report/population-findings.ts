import type { Totals } from '../record/totals.js';
import { phaseAt, type Restart } from '../timeline/attribute.js';
import type { ClientsReport } from '../timeline/clients-report.js';
import type { DisconnectBurst } from '../timeline/disconnect-burst.js';
import type { Disconnects } from '../timeline/phase-report.js';
import type { PhaseSpan } from '../timeline/types.js';

/** What the findings about a connected population read (summary.json's blocks, the burst from the events). */
export interface PopulationFindingsInput {
  disconnects?: Disconnects | null;
  /** The dominant burst of disconnects; absent or null: the phases of summary.disconnects say where. */
  burst?: DisconnectBurst | null;
  clients?: ClientsReport | null;
  restarts?: Restart[] | null;
  timeline: PhaseSpan[];
}

const num = (n: number) => n.toLocaleString('en-US');
const signed = (ms: number) => {
  const r = Math.round(ms / 10) / 100;
  return `${r >= 0 ? '+' : '−'}${Math.abs(r).toFixed(2)} s`;
};
const span = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);

/** "1012" alone, else "1012 ×4,000, 1006 ×980", the most first. */
export function codeMix(codes: Record<string, number>): string {
  const entries = Object.entries(codes).sort(([a, x], [b, y]) => y - x || Number(a) - Number(b));
  return entries.length === 1 ? entries[0][0] : entries.map(([c, n]) => `${c} ×${num(n)}`).join(', ');
}

/** The cut, the herd it caused and the comebacks, in plain words (pure). */
export function populationFindings(input: PopulationFindingsInput): string[] {
  return [...cut(input), ...herd(input), ...comebacks(input)];
}

/** When the clients' sockets were cut, by what, and where the target's startups were then. */
function cut({ disconnects: d, burst, clients, restarts, timeline }: PopulationFindingsInput): string[] {
  // Without clients that dropped (arrivals only), a server's close after open is an attempt's outcome, which the other findings tell.
  if (!d || d.total === 0 || !clients?.dropped) return [];
  const plural = (n: number) => (n === 1 ? 'was' : 'were');
  // Every disconnect was a client's drop; else some were arrivals' sockets (load.stages beside the population) cut too.
  const allDrops = d.total === clients.drops;
  if (!burst) {
    const [phase] = Object.entries(d.phases).sort(([, a], [, b]) => b.total - a.total)[0] ?? ['unknown'];
    const who = allDrops ? `${num(d.total)} of ${num(clients.clients)} clients ${plural(clients.clients)}` : `${num(d.total)} connection${d.total === 1 ? '' : 's'} ${plural(d.total)}`;
    return [`${who} cut (${codeMix(d.closeCodes)}), most during ${phase}`];
  }
  // The burst counts only the clients' drops.
  const when = burst.toMs - burst.fromMs < 1000 ? `at ${signed(burst.fromMs)}` : `from ${signed(burst.fromMs)} to ${signed(burst.toMs)}`;
  const more = clients.drops - burst.count;
  const rest = more > 0 ? `; ${num(more)} more at other times${allDrops ? ` (${codeMix(subtract(d.closeCodes, burst.closeCodes))})` : ''}` : '';
  return [`${num(burst.count)} of ${num(clients.clients)} clients ${plural(clients.clients)} cut (${codeMix(burst.closeCodes)}) ${when}${cutContext(burst.fromMs, timeline, restarts)}${rest}`];
}

function subtract(all: Record<string, number>, part: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(all).map(([c, n]) => [c, n - (part[c] ?? 0)]).filter(([, n]) => (n as number) > 0));
}

/** The startup the cut fell in: after a new one said ready (the old revision stopping), during one, or a phase. */
function cutContext(atMs: number, timeline: PhaseSpan[], restarts: Restart[] | null | undefined): string {
  const r = (restarts ?? []).filter((x) => x.startMs <= atMs).pop();
  if (r && r.readyAtMs !== null && r.readyAtMs <= atMs) return `, ${span(atMs - r.readyAtMs)} after the new startup reported ready at ${signed(r.readyAtMs)}`;
  if (timeline.length === 0) return '';
  const phase = phaseAt({ spans: timeline, readyAtMs: null, failedAtMs: null }, atMs);
  return r ? `, while the new startup was in ${phase}` : `, during ${phase}`;
}

/** A retry's failure in words, with its count, from a block of retries. */
function failures(t: Totals): [string, number][] {
  const out: [string, number][] = [];
  for (const [code, n] of Object.entries(t.closeCodes)) if (code !== '1000' && n > 0) out.push([`hit ${code}`, n]);
  for (const [status, n] of Object.entries(t.httpStatus)) if (n > 0) out.push([`were rejected with HTTP ${status}`, n]);
  const words: Record<string, string> = { refused: 'were refused', reset: 'were reset', handshake_timeout: 'timed out in the handshake', expect_timeout: 'never got the expected message', error: 'failed with an error', lost: 'were lost with their worker' };
  for (const [kind, n] of Object.entries(t.errors)) if (n > 0 && words[kind]) out.push([words[kind], n]);
  return out;
}

/** The reconnect herd: the three largest kinds of failed retries, with the phase they met (pure). */
function herd({ clients, restarts, timeline }: PopulationFindingsInput): string[] {
  const byPhase = clients?.retriesByPhase;
  if (!byPhase) return [];
  const newStart = restarts?.[0]?.startMs ?? null;
  const rows = Object.entries(byPhase).flatMap(([phase, t], order) => failures(t).map(([what, n]) => ({ phase, what, n, order })));
  rows.sort((a, b) => b.n - a.n || a.order - b.order);
  return rows.slice(0, 3).map(({ phase, what, n }) => {
    const spans = timeline.filter((s) => s.phase === phase);
    const onNew = newStart !== null && spans.length > 0 && spans.every((s) => s.startMs >= newStart) ? ' on the new startup' : '';
    // Without a timeline every retry is in `unknown`: saying so would read as a phase.
    const during = timeline.length === 0 ? '' : ` during ${phase}`;
    return `${num(n)} reconnect attempt${n === 1 ? '' : 's'} ${what}${onNew}${during}`;
  });
}

/** How long the dropped clients were out, what it took them to come back, and who never did. */
function comebacks({ clients: c }: PopulationFindingsInput): string[] {
  if (!c || !c.dropped) return [];
  const parts = [`${num(c.dropped)} client${c.dropped === 1 ? ' was' : 's were'} dropped${c.drops > c.dropped ? ` (${num(c.drops)} drops)` : ''}`];
  const o = c.outageMs;
  if (o.count > 0 && o.p50 !== null && o.p99 !== null && o.max !== null) {
    const a = c.attemptsPerReconnect;
    parts.push(`p99 outage ${span(o.p99)} (p50 ${span(o.p50)}, max ${span(o.max)}), ${a.mean ?? 0} attempt${a.mean === 1 ? '' : 's'} per comeback (max ${a.max})`);
  }
  parts.push(c.neverBack === 0 ? 'all came back' : `${num(c.neverBack)} never came back${notBackWhy(c)}`);
  return [parts.join('; ')];
}

/**
 * " (their last attempts: 12 http_503, 8 handshake_timeout; of them, 8 had stopped retrying and 12
 * were still retrying at the end)", outcomes most first; each part left out when the run did not
 * say (an older summary).
 */
function notBackWhy(c: NonNullable<PopulationFindingsInput['clients']>): string {
  const entries = Object.entries(c.neverBackLast ?? {}).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  const parts = entries.length === 0 ? [] : [`their last attempts: ${entries.map(([k, n]) => `${num(n)} ${k}`).join(', ')}`];
  const split = stoppedOrStill(c.neverBack, c.gaveUp?.neverBack);
  if (split !== null) parts.push(split);
  return parts.length === 0 ? '' : ` (${parts.join('; ')})`;
}

/**
 * Of `n` clients not back, how many had stopped retrying (`stopped`) and how many were still at
 * it: "all had stopped retrying", "all were still retrying at the end", or "of them, 8 had stopped
 * retrying and 12 were still retrying at the end"; null when none or an older summary does not say.
 */
export function stoppedOrStill(n: number, stopped: number | undefined): string | null {
  if (n === 0 || stopped === undefined) return null;
  const still = n - stopped;
  if (still === 0) return 'all had stopped retrying';
  if (stopped === 0) return 'all were still retrying at the end';
  return `of them, ${num(stopped)} had stopped retrying and ${num(still)} ${still === 1 ? 'was' : 'were'} still retrying at the end`;
}
