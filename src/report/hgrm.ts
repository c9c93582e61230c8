import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Histogram } from 'hdr-histogram-js';
import { NS_PER_MS } from '../record/histogram.js';

/** Percentile ticks per half distance: HdrHistogram's default, what the plotter expects. */
const TICKS_PER_HALF_DISTANCE = 5;

/**
 * The .hgrm text of HdrHistogram's outputPercentileDistribution, values in milliseconds.
 *
 * hdr-histogram-js produces Java's layout (same format strings): the header
 * `       Value     Percentile TotalCount 1/(1-Percentile)` and a blank line, rows
 * "%12.3f %2.12f %10d %14.2f" (the 100% row has no 4th column, as in Java, since 1/(1-1) is
 * infinite), then the #[Mean/#[Max/#[Buckets footer. One difference: its footer Max is the
 * recorded max (the same as summary.json), where Java prints the top of the max's bucket
 * (≤ 0.1% apart); and the last digit of Mean can round differently. Checked against Java
 * HdrHistogram 2.2.2 on the same data: every row identical. An empty histogram gives
 * header + footer with zeros.
 */
export function percentileDistribution(h: Histogram): string {
  return h.outputPercentileDistribution(TICKS_PER_HALF_DISTANCE, NS_PER_MS);
}

const SAFE_NAME = /^[A-Za-z0-9_.-]+$/;

/** Writes `<name>.hgrm` into `dir` for each non-empty histogram; returns the file names written. */
export function writeHgrmFiles(dir: string, histograms: Record<string, Histogram>): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, h] of Object.entries(histograms)) {
    // Names are metric names; refuse anything that could escape `dir` or hide another file.
    if (!SAFE_NAME.test(name) || name.startsWith('.')) throw new Error(`unsafe .hgrm name "${name}"`);
    if (h.totalCount === 0) continue;
    const file = `${name}.hgrm`;
    writeFileSync(join(dir, file), percentileDistribution(h));
    written.push(file);
  }
  return written;
}
