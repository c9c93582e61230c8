/**
 * The shape of the JSON that report.html embeds and its script (client.js) reads: the series
 * html-data.ts computes and the chart view html.ts adds. Types only, no imports, so the browser
 * script's type-check (tsconfig.client.json) can use it without Node's types.
 */

/** Per-second outcome counts, indexed alike: `t[i]` is the second (since T0) that index i covers. */
export interface PerSecond {
  /** Start of each one-second bucket, in seconds since T0: [t, t + 1) by scheduled start. */
  t: number[];
  /** Worked: closed with code 1000. */
  opened: number[];
  c1011: number[];
  /** Closes with any code other than 1000 and 1011 (1006 when no close frame came). */
  otherClose: number[];
  http503: number[];
  otherHttp: number[];
  refused: number[];
  /** handshake_timeout + expect_timeout. */
  timeouts: number[];
  /** reset, error, dropped, interrupted, lost: whatever else (not the target's doing, mostly). */
  other: number[];
  /** Reconnecting clients: how many of the bucket's attempts were retries (try > 0), whatever their outcome. */
  retries: number[];
  /** Bucket length in seconds: `t[i]` covers [t[i], t[i] + bucketS). One second unless chosen finer. */
  bucketS: number;
}

/** Handshake latency (open − sched, ms) of the attempts that opened, per second of scheduled start. */
export interface HandshakeOverTime {
  t: number[];
  count: number[];
  /** Exact nearest-rank percentiles of the second's values; null for a second with none. */
  p50: (number | null)[];
  p99: (number | null)[];
}

/** One row of HdrHistogram's percentile distribution (the .hgrm rows), value in ms. */
export interface DistributionPoint {
  /** The percentile tick, 0–100 (0, 10, … 50, 55, … 75, 77.5, … 100). */
  percentile: number;
  /** Highest value equivalent to the tick's value in the histogram (as .hgrm prints it), ms, 3 decimals. */
  valueMs: number;
  /** Opened handshakes at or below this value. */
  count: number;
}

/**
 * session.stream's messages per bucket of send time (ms since T0), indexed alike: how many were
 * sent, lost and answered late, and the round trip of the answered ones (late ones too).
 */
export interface MessagesOverTime {
  /** Start of each bucket in seconds since T0; bucket length is PerSecond's bucketS. */
  t: number[];
  sent: number[];
  lost: number[];
  late: number[];
  /** Nearest-rank p50 and p99 of the bucket's round trips (ms, within 1%); null for a bucket with none. */
  p50: (number | null)[];
  p99: (number | null)[];
}

export interface PhaseBand {
  phase: string;
  startS: number;
  endS: number;
}

/**
 * A connected population's series (load.population), over buckets of `bucketS` seconds starting at
 * `t[i]`: what its clients felt through a deploy.
 */
export interface PopulationSeries {
  t: number[];
  bucketS: number;
  /** The population's sockets open at the end of each bucket (opened before it ends, closed after): connected clients. */
  connected: number[];
  /** The arrivals' sockets open then (load.stages beside the population); absent when none opened. */
  arrivals?: number[];
  /** Disconnects (closes wsrace did not ask for) by the bucket they closed in, one series per close code, the rarest codes as `other`. */
  disconnects: { code: string; counts: number[] }[];
  /** Retries (every attempt after a client's first) by scheduled start and outcome; `opened` is a socket that served its client. */
  herd: Record<OutcomeKey, number[]>;
}

/** The series the charts draw (a part of html-data's ReportData). */
export interface ChartData {
  perSecond: PerSecond;
  handshakeOverTime: HandshakeOverTime;
  distribution: DistributionPoint[];
  /** With load.population only. */
  population?: PopulationSeries;
  /** Absent when the run had no stream. */
  messagesOverTime?: MessagesOverTime;
}

/** A per-second series that is one outcome (a layer of the stacked bars). */
export type OutcomeKey = Exclude<keyof PerSecond, 't' | 'retries' | 'bucketS'>;

export interface OutcomeStyle {
  key: OutcomeKey;
  label: string;
  color: string;
}

/** What the charts need besides the series, computed in Node so the page's script stays small. */
export interface ChartView {
  xMin: number;
  xMax: number;
  bands: (PhaseBand & { color: string })[];
  readyS: number | null;
  failedS: number | null;
  outcomes: readonly OutcomeStyle[];
  /** With a population: the disconnect series' colours, and the herd's outcomes (`opened` reads "worked"). */
  closeCodes?: { code: string; color: string }[];
  herdOutcomes?: readonly OutcomeStyle[];
}

/** The embedded JSON: `<script type="application/json" id="data">`. */
export interface PageData {
  report: ChartData;
  view: ChartView;
}
