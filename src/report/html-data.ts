import { servedAfterOf } from '../record/clients.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JsHistogram, type Histogram } from 'hdr-histogram-js';
import { createHistogram, NS_PER_MS, recordMs } from '../record/histogram.js';
import type { EventLine } from '../timeline/phase-report.js';
import type { ChartData, DistributionPoint, HandshakeOverTime, MessagesOverTime, PerSecond, PhaseBand } from './html/page-data.js';
import { MessageAccumulator, isMessageLine } from './html-messages.js';
import { readNdjsonLines } from './read-ndjson.js';
import type { Summary } from './summary.js';
import { OUTCOME_SERIES, outcomeSeries, type OutcomeSeries } from './outcome-series.js';
import { codeSeries, PopulationAccumulator } from './population-data.js';
import { round3 } from '../util/round.js';

export { OUTCOME_SERIES, outcomeSeries, type OutcomeSeries } from './outcome-series.js';

// The page's data types live with the page's script, which reads them without Node's types.
export type { DistributionPoint, HandshakeOverTime, MessagesOverTime, PerSecond, PhaseBand } from './html/page-data.js';

export interface ReportData extends ChartData {
  summary: Summary;
  /** scenario.json (the resolved, redacted scenario); null when the run folder has none. */
  scenario: unknown | null;
  /** Lines of events.ndjson that could not be parsed (skipped, counted). */
  badEventLines: number;
  /** Lines of messages.ndjson that could not be parsed (skipped, counted); absent without a stream. */
  badMessageLines?: number;
}

/** HdrHistogram's default percentile ticks per half distance (the .hgrm files use it too). */
export const TICKS_PER_HALF_DISTANCE = 5;

/** Nearest-rank percentile of sorted values. */
function nearestRank(sorted: Float64Array, p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/**
 * Bucket length for the time charts: fine enough to see a sub-second race in a short cold-start
 * run, coarse enough to stay light for an hour-long one.
 */
export function chooseBucketMs(durationMs: number): number {
  if (durationMs <= 15_000) return 100;
  if (durationMs <= 60_000) return 250;
  return 1000;
}

/**
 * Accumulates events into the per-second series and the handshake histogram. Pure (no I/O):
 * `loadReportData` feeds it events.ndjson line by line; tests feed it arrays.
 */
export class ReportAccumulator {
  constructor(private readonly bucketMs = 1000) {}

  private readonly counts = new Map<number, Record<OutcomeSeries, number>>();
  private readonly handshakes = new Map<number, number[]>();
  private readonly histogram: Histogram = createHistogram();
  private readonly retries = new Map<number, number>();

  add(e: Pick<EventLine, 'sched' | 'open' | 'outcome' | 'code' | 'status'> & { try?: number }): void {
    const second = Math.floor(e.sched / this.bucketMs); // the bucket's number (seconds when 1000 ms)
    if ((e.try ?? 0) > 0) this.retries.set(second, (this.retries.get(second) ?? 0) + 1);
    let c = this.counts.get(second);
    if (!c) this.counts.set(second, (c = Object.fromEntries(OUTCOME_SERIES.map((k) => [k, 0])) as Record<OutcomeSeries, number>));
    c[outcomeSeries(e)]++;
    if (e.open !== null && e.open !== undefined) {
      const ms = e.open - e.sched;
      recordMs(this.histogram, ms);
      let list = this.handshakes.get(second);
      if (!list) this.handshakes.set(second, (list = []));
      list.push(ms > 0 ? ms : 0); // as recordMs: clock jitter below 0 reads as 0
    }
  }

  /**
   * The series over every second from min(0, first attempt's) to max(last attempt's, run end),
   * so the x axis spans the whole run even where nothing was scheduled.
   */
  result(runEndMs = 0): Pick<ReportData, 'perSecond' | 'handshakeOverTime' | 'distribution'> {
    let first = 0;
    let last = Math.ceil(runEndMs / this.bucketMs) - 1;
    for (const s of this.counts.keys()) {
      first = Math.min(first, s);
      last = Math.max(last, s);
    }
    last = Math.max(last, first);
    const bucketS = this.bucketMs / 1000;
    const perSecond: PerSecond = { t: [], opened: [], c1011: [], otherClose: [], http503: [], otherHttp: [], refused: [], timeouts: [], other: [], retries: [], bucketS };
    const handshakeOverTime: HandshakeOverTime = { t: [], count: [], p50: [], p99: [] };
    for (let s = first; s <= last; s++) {
      perSecond.t.push(round3(s * bucketS));
      const c = this.counts.get(s);
      for (const k of OUTCOME_SERIES) perSecond[k].push(c ? c[k] : 0);
      perSecond.retries.push(this.retries.get(s) ?? 0);
      const values = this.handshakes.get(s);
      handshakeOverTime.t.push(round3(s * bucketS));
      if (values && values.length > 0) {
        const sorted = Float64Array.from(values).sort();
        handshakeOverTime.count.push(sorted.length);
        handshakeOverTime.p50.push(round3(nearestRank(sorted, 50)));
        handshakeOverTime.p99.push(round3(nearestRank(sorted, 99)));
      } else {
        handshakeOverTime.count.push(0);
        handshakeOverTime.p50.push(null);
        handshakeOverTime.p99.push(null);
      }
    }
    return { perSecond, handshakeOverTime, distribution: percentilePoints(this.histogram) };
  }
}

/** HdrHistogram's percentile iteration (the rows of outputPercentileDistribution), values in ms. */
export function percentilePoints(h: Histogram, ticksPerHalfDistance = TICKS_PER_HALF_DISTANCE): DistributionPoint[] {
  if (h.totalCount === 0) return [];
  if (!(h instanceof JsHistogram)) throw new Error('percentilePoints needs a JS histogram (createHistogram() builds one)');
  const iterator = h.percentileIterator;
  iterator.reset(ticksPerHalfDistance);
  const points: DistributionPoint[] = [];
  while (iterator.hasNext()) {
    const v = iterator.next(); // a shared object: copy its fields now
    points.push({ percentile: v.percentileLevelIteratedTo, valueMs: round3(v.valueIteratedTo / NS_PER_MS), count: v.totalCountToThisValue });
  }
  return points;
}

/**
 * Startup phases as bands on the time axis (seconds since T0), in timeline order. A span still
 * open (endMs null) ends at the run's end. When the first phase starts after T0, the time before
 * it is `unknown` (as attempts are attributed there).
 */
export function phaseBands(summary: Pick<Summary, 'timeline' | 'durationMs'>): PhaseBand[] {
  const runEndMs = Math.max(summary.durationMs, ...summary.timeline.map((s) => s.endMs ?? s.startMs));
  const bands: PhaseBand[] = summary.timeline.map((s) => ({ phase: s.phase, startS: s.startMs / 1000, endS: (s.endMs ?? runEndMs) / 1000 }));
  if (bands.length > 0 && bands[0].startS > 0) bands.unshift({ phase: 'unknown', startS: 0, endS: bands[0].startS });
  return bands;
}

/**
 * Reads a run folder: summary.json, events.ndjson (streamed line by line; unparseable lines are
 * counted, not fatal), scenario.json when present, and with a stream messages.ndjson (the same way).
 */
export async function loadReportData(runDir: string, options: { bucketMs?: number } = {}): Promise<ReportData> {
  const summary = JSON.parse(await readFile(join(runDir, 'summary.json'), 'utf8')) as Summary;
  const scenarioPath = join(runDir, 'scenario.json');
  const scenario: unknown = existsSync(scenarioPath) ? JSON.parse(await readFile(scenarioPath, 'utf8')) : null;
  const bucketMs = options.bucketMs ?? chooseBucketMs(summary.durationMs);
  const acc = new ReportAccumulator(bucketMs);
  const population = new PopulationAccumulator(bucketMs, codeSeries(summary.disconnects?.closeCodes ?? {}), servedAfterOf(scenario));
  const isEvent = (e: unknown): e is EventLine => typeof (e as EventLine | null)?.sched === 'number' && typeof (e as EventLine).outcome === 'string';
  const badEventLines = await readNdjsonLines(join(runDir, 'events.ndjson'), isEvent, (e) => {
    acc.add(e);
    population.add(e);
  });
  const data: ReportData = { summary, scenario, ...acc.result(summary.durationMs), badEventLines };
  if (population.seen) data.population = population.result(summary.durationMs);
  if (summary.messages) await addMessages(data, join(runDir, 'messages.ndjson'));
  return data;
}

/**
 * session.stream's series from messages.ndjson (streamed: it can be large), over the same buckets
 * as the attempts' and as far beyond them as messages were sent.
 */
async function addMessages(data: ReportData, path: string): Promise<void> {
  const bucketS = data.perSecond.bucketS;
  const acc = new MessageAccumulator(bucketS * 1000);
  data.badMessageLines = await readNdjsonLines(path, isMessageLine, (line) => acc.add(line));
  const t = data.perSecond.t;
  const span = acc.span();
  const first = Math.min(Math.round(t[0] / bucketS), span?.[0] ?? Infinity);
  const last = Math.max(Math.round(t[t.length - 1] / bucketS), span?.[1] ?? -Infinity);
  data.messagesOverTime = acc.result(first, last) satisfies MessagesOverTime;
}
