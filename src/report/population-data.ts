import { POPULATION_BASE } from '../record/attempt.js';
import { disconnected, SERVED_AFTER_MS, worked } from '../record/clients.js';
import type { EventLine } from '../timeline/phase-report.js';
import type { OutcomeKey, PopulationSeries } from './html/page-data.js';
import { OUTCOME_SERIES, outcomeSeries } from './outcome-series.js';
import { round3 } from '../util/round.js';

/** Close codes drawn as their own disconnect series; the rest are `other`, so a server sending every code cannot flood the page. */
export const MAX_CODE_SERIES = 6;

/** The codes with their own series: the most frequent in summary.disconnects (ties by code). */
export function codeSeries(closeCodes: Record<string, number>): string[] {
  return Object.entries(closeCodes)
    .sort(([a, x], [b, y]) => y - x || Number(a) - Number(b))
    .slice(0, MAX_CODE_SERIES)
    .map(([c]) => c);
}

type PopulationEvent = Pick<EventLine, 'sched' | 'open' | 'end' | 'outcome' | 'code' | 'status' | 'serverClosed' | 'client' | 'try' | 'ok' | 'msgs' | 'reply'>;

const bump = (m: Map<number, number>, k: number, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

/**
 * Accumulates a population's series from events.ndjson, one line at a time: memory grows with the
 * run's buckets, not with its sockets. Pure (no I/O); `seen` says whether any population client
 * was in the events (without one, the report has no population section).
 */
export class PopulationAccumulator {
  seen = false;
  /** +1 in the bucket a client's socket opened in, −1 in the one it closed in: their running sum is what was open. */
  private readonly openDelta = new Map<number, number>();
  /** The same for the arrivals' sockets (load.stages beside the population). */
  private readonly arrivalDelta = new Map<number, number>();
  private readonly disconnects: Map<number, number>[];
  private readonly herd = new Map<number, Record<OutcomeKey, number>>();
  private readonly buckets = new Set<number>();

  constructor(
    private readonly bucketMs: number,
    private readonly codes: readonly string[],
    /** session.servedAfter (record/clients.ts worked()). */
    private readonly servedAfterMs = SERVED_AFTER_MS,
  ) {
    this.disconnects = [...codes, 'other'].map(() => new Map());
  }

  add(e: PopulationEvent): void {
    const client = e.client !== undefined && e.client >= POPULATION_BASE;
    if (client) this.seen = true;
    const b = (ms: number) => Math.floor(ms / this.bucketMs);
    if (e.open !== null && e.open !== undefined) {
      const delta = client ? this.openDelta : this.arrivalDelta;
      bump(delta, b(e.open));
      bump(delta, b(e.end), -1);
      this.buckets.add(b(e.open)).add(b(e.end));
      // A disconnect is a socket that served its client, cut (summary.disconnects); one closed at once is the herd's.
      if (disconnected(e, this.servedAfterMs)) {
        const i = this.codes.indexOf(String(e.code ?? 1006));
        bump(this.disconnects[i < 0 ? this.codes.length : i], b(e.end));
      }
    }
    if ((e.try ?? 0) > 0) {
      const k = b(e.sched);
      this.buckets.add(k);
      let c = this.herd.get(k);
      if (!c) this.herd.set(k, (c = Object.fromEntries(OUTCOME_SERIES.map((s) => [s, 0])) as Record<OutcomeKey, number>));
      c[worked(e, this.servedAfterMs) ? 'opened' : outcomeSeries(e)]++;
    }
  }

  /** The series from min(0, the first bucket) to max(the last bucket, the run's end); `other` only when it has any. */
  result(runEndMs = 0): PopulationSeries {
    let first = 0;
    let last = Math.ceil(runEndMs / this.bucketMs) - 1;
    for (const k of this.buckets) [first, last] = [Math.min(first, k), Math.max(last, k)];
    last = Math.max(last, first);
    const bucketS = this.bucketMs / 1000;
    const out: PopulationSeries = { t: [], bucketS, connected: [], disconnects: [], herd: Object.fromEntries(OUTCOME_SERIES.map((s) => [s, []])) as unknown as Record<OutcomeKey, number[]> };
    const codes = [...this.codes, 'other'].map((code, i) => ({ code, counts: [] as number[], from: this.disconnects[i] }));
    const arrivals: number[] = [];
    let [open, arriving] = [0, 0];
    for (let k = first; k <= last; k++) {
      out.t.push(round3(k * bucketS));
      open += this.openDelta.get(k) ?? 0;
      arriving += this.arrivalDelta.get(k) ?? 0;
      out.connected.push(open);
      arrivals.push(arriving);
      for (const c of codes) c.counts.push(c.from.get(k) ?? 0);
      const h = this.herd.get(k);
      for (const s of OUTCOME_SERIES) out.herd[s].push(h ? h[s] : 0);
    }
    out.disconnects = codes.filter((c) => c.code !== 'other' || c.from.size > 0).map(({ code, counts }) => ({ code, counts }));
    if (this.arrivalDelta.size > 0) out.arrivals = arrivals;
    return out;
  }
}
