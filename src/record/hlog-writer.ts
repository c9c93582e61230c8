import { closeSync, openSync, writeSync } from 'node:fs';
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { NS_PER_MS } from './histogram.js';

/**
 * latency.hlog's writer: HdrHistogram interval log, format version 1.3, written the way Java's
 * HistogramLogWriter writes it so HistogramLogProcessor / HistogramLogAnalyzer open it with their
 * defaults (values in ns, Interval_Max in ms).
 *
 * The lines are written here rather than through hdr-histogram-js's HistogramLogWriter because
 * that one divides Interval_Max by 1000 (not Java's 1_000_000), pads time fields, puts a blank
 * line after StartTime and never writes BaseTime. report/hlog.ts reads the files back.
 */

// Java's HistogramLogScanner splits fields on comma, space, CR and LF: a tag must contain none.
const TAG_DELIMITERS = /[,\s]/g;

function fmt3(n: number): string {
  // Java writes "%.3f" with Locale.US; toFixed never groups digits and always uses '.'.
  return n.toFixed(3);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');

/** java.util.Date#toString() ("EEE MMM dd HH:mm:ss zzz yyyy"), in UTC so files do not depend on TZ. */
function javaDateString(ms: number): string {
  const d = new Date(ms);
  const time = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${pad2(d.getUTCDate())} ${time} UTC ${d.getUTCFullYear()}`;
}

/** Replaces the delimiters Java's reader splits on; an empty tag is a caller bug. */
export function sanitizeTag(tag: string): string {
  const clean = tag.replace(TAG_DELIMITERS, '_');
  if (clean.length === 0) throw new Error('hlog tag must not be empty');
  return clean;
}

export class HlogWriter {
  private fd: number | null;
  private readonly baseTimeMs: number;

  /** Creates (truncates) `path` and writes the header at once, so even an empty run leaves a valid log. */
  constructor(path: string, opts: { startTimeMs: number }) {
    this.baseTimeMs = opts.startTimeMs;
    this.fd = openSync(path, 'w');
    const secs = opts.startTimeMs / 1000;
    this.write(
      '#[Histogram log format version 1.3]\n' +
        `#[StartTime: ${fmt3(secs)} (seconds since epoch), ${javaDateString(opts.startTimeMs)}]\n` +
        `#[BaseTime: ${fmt3(secs)} (seconds since epoch)]\n` +
        '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n',
    );
  }

  /**
   * Appends one interval (timestamps relative to BaseTime, in seconds). Each line goes out in a
   * single synchronous write, so a killed run leaves every earlier interval intact and at worst a
   * torn last line, which readHlog drops. Empty histograms are skipped, as they carry nothing.
   */
  append(tag: string, fromEpochMs: number, toEpochMs: number, h: Histogram): void {
    if (this.fd === null) throw new Error('HlogWriter: append after close');
    if (h.totalCount === 0) return;
    const start = (fromEpochMs - this.baseTimeMs) / 1000;
    const length = (toEpochMs - fromEpochMs) / 1000;
    // h.maxValue: the same max summary.json reports (Java prints highestEquivalentValue(max),
    // at most one bucket width, i.e. 0.1%, higher).
    const max = h.maxValue / NS_PER_MS;
    const base64 = hdr.encodeIntoCompressedBase64(h);
    this.write(`Tag=${sanitizeTag(tag)},${fmt3(start)},${fmt3(length)},${fmt3(max)},${base64}\n`);
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  private write(text: string): void {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd as number, buf, off, buf.length - off);
  }
}
