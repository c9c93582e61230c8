import { readFileSync } from 'node:fs';
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { createHistogram } from '../record/histogram.js';
import { sanitizeTag } from '../record/hlog-writer.js';

/** Reading latency.hlog back (record/hlog-writer.ts writes it): for compare, merge and tests. */

export interface HlogInterval {
  tag: string;
  startMs: number;
  endMs: number;
  histogram: Histogram;
}

/**
 * Reads every interval with hdr-histogram-js's HistogramLogReader. A last line without its
 * newline is a write torn by a crash and is dropped; any other malformed line throws.
 * Timestamps come back as epoch ms rounded to the file's millisecond resolution.
 */
export function readHlog(path: string): HlogInterval[] {
  let content = readFileSync(path, 'utf8');
  const lastNewline = content.lastIndexOf('\n');
  content = content.slice(0, lastNewline + 1);
  const reader = new hdr.HistogramLogReader(content, 32, false);
  const out: HlogInterval[] = [];
  for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
    h.autoResize = true;
    out.push({ tag: h.tag, startMs: Math.round(h.startTimeStampMsec), endMs: Math.round(h.endTimeStampMsec), histogram: h });
  }
  return out;
}

/** Sums every interval of `tag` into a fresh wsrace histogram (empty when the tag never occurs). */
export function mergeHlog(path: string, tag: string): Histogram {
  const merged = createHistogram();
  const wanted = sanitizeTag(tag);
  for (const interval of readHlog(path)) {
    if (interval.tag === wanted) merged.add(interval.histogram);
  }
  return merged;
}
