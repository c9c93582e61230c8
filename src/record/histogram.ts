import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { round3 } from '../util/round.js';

/**
 * All latencies are recorded as integer nanoseconds, the unit HdrHistogram's reference tools
 * (HistogramLogProcessor, the plotter) assume, so the files we write open with their defaults.
 * Histograms auto-resize: build()'s default highest trackable value would be 2.
 */
export const NS_PER_MS = 1_000_000;

/** The latency metrics every run records, in the order reports show them. */
export const METRICS = [
  'handshake', // scheduled start → open (coordinated-omission free)
  'handshakeFail', // scheduled start → failure, for attempts that never opened
  'tcpConnect', // actual start → TCP connected
  'tlsHandshake', // TCP connected → TLS established (wss://)
  'upgrade', // TCP connected (TLS established, for wss://) → HTTP 101
  'firstMessage', // open → first message matching session.expect
  'scheduleLag', // actual − scheduled start: the generator's own lateness
  'serverCloseAfter', // open → a close the client did not ask for
  'loopDelay', // how late each worker's deadline tick ran (2 ms; 1 ms with a stream): time socket events may have waited in wsrace
  'messageRtt', // session.stream: a message sent → its reply (late ones too)
  'messageSendLag', // session.stream: a message's actual − scheduled send
] as const;
export type Metric = (typeof METRICS)[number];

export function createHistogram(): Histogram {
  return hdr.build({
    autoResize: true,
    lowestDiscernibleValue: 1000, // 1 µs: finer than any socket event, and a smaller histogram (docs/performance.md)
    highestTrackableValue: 60 * 1000 * NS_PER_MS,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
  });
}

/** (Fractional) ms as the integer ns histograms hold; negatives from clock jitter become 0. */
const toNs = (ms: number): number => (ms > 0 ? Math.round(ms * NS_PER_MS) : 0);

/** Records a duration given in (fractional) milliseconds. */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(toNs(ms));
}

/**
 * Records how late a periodic sample ran, given in ms, and the samples a stall swallowed: a tick
 * `ms` late stands for the ticks that never ran, late by ms − interval, ms − 2·interval, … down
 * to the interval (HdrHistogram's coordinated-omission correction). Without them a 500 ms stall
 * would be one sample among hundreds of punctual ones.
 */
export function recordMsWithExpectedInterval(h: Histogram, ms: number, intervalMs: number): void {
  h.recordValueWithExpectedInterval(toNs(ms), toNs(intervalMs));
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(encoded: string): Histogram {
  const h = hdr.decodeFromCompressedBase64(encoded, 32, false);
  h.autoResize = true;
  return h;
}

export interface LatencyStats {
  count: number;
  min: number | null;
  mean: number | null;
  stddev: number | null;
  p50: number | null;
  p75: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
}

const toMs = (ns: number) => round3(ns / NS_PER_MS);

/** Milliseconds (3 decimals) read from the histogram; never averaged across histograms. */
export function latencyStats(h: Histogram): LatencyStats {
  const count = h.totalCount;
  if (count === 0) {
    return { count: 0, min: null, mean: null, stddev: null, p50: null, p75: null, p90: null, p95: null, p99: null, p999: null, max: null };
  }
  return {
    count,
    min: toMs(h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : minValue(h)),
    mean: toMs(h.mean),
    stddev: toMs(h.stdDeviation),
    p50: toMs(h.getValueAtPercentile(50)),
    p75: toMs(h.getValueAtPercentile(75)),
    p90: toMs(h.getValueAtPercentile(90)),
    p95: toMs(h.getValueAtPercentile(95)),
    p99: toMs(h.getValueAtPercentile(99)),
    p999: toMs(h.getValueAtPercentile(99.9)),
    max: toMs(h.maxValue),
  };
}

// The library exposes only the smallest non-zero value; a recorded 0 is the true minimum.
function minValue(h: Histogram): number {
  return h.getValueAtPercentile(0) === 0 ? 0 : h.minNonZeroValue;
}
