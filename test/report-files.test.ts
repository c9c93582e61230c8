import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { afterAll, describe, expect, it } from 'vitest';
import { createHistogram } from '../src/record/histogram.js';
import { HlogWriter } from '../src/record/hlog-writer.js';
import { mergeHlog, readHlog } from '../src/report/hlog.js';
import { percentileDistribution, writeHgrmFiles } from '../src/report/hgrm.js';
import { renderJunit, type JunitInput } from '../src/report/junit.js';
import { IntervalLog } from '../src/record/interval-log.js';
import type { AttemptRecord } from '../src/record/attempt.js';

const dir = mkdtempSync(join(tmpdir(), 'wsrace-report-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_700_000_000_123; // epoch ms with a non-zero millisecond part

function histogramOf(valuesNs: number[]): Histogram {
  const h = createHistogram();
  for (const v of valuesNs) h.recordValue(v);
  return h;
}

// Deterministic ns values spread from µs to seconds, so intervals resize differently.
function values(seed: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => ((i * 7919 + seed * 104_729) % 5000) * 1_003_001 + seed * 1000);
}

function percentilesOf(h: Histogram): number[] {
  return [0, 1, 25, 50, 75, 90, 99, 99.9, 100].map((p) => h.getValueAtPercentile(p));
}

describe('IntervalLog: one interval per round of worker ticks, on the workers\' own bounds', () => {
  it('joins the two workers\' ticks of a second; a worker that stops ticking does not hold the log back', () => {
    const path = join(dir, 'rounds.hlog');
    const log = new IntervalLog(path, T0, 2);
    const record = (w: number, open: number): AttemptRecord => ({ i: 0, w, sched: open - 2, start: open - 2, tcp: null, up: null, open, first: null, end: open + 1, outcome: 'close', code: 1000 });
    log.addRecord(record(0, T0 + 10), 'init');
    log.addInterval(0, T0 - 5, T0 + 1000, { handshake: histogramOf([1e6, 2e6]) }); // opened at go, before T0
    log.addRecord(record(1, T0 + 20), 'init');
    log.addInterval(1, T0 - 3, T0 + 1002, { handshake: histogramOf([3e6]) });
    // Worker 1 ticks no more: worker 0's second tick waits for a round, its third closes it.
    log.addInterval(0, T0 + 1000, T0 + 2000, { handshake: histogramOf([4e6]) });
    log.addInterval(0, T0 + 2000, T0 + 3000, { handshake: histogramOf([5e6, 6e6]) });
    log.addRecord(record(1, T0 + 3500), 'ready'); // after worker 1's last tick: written at close
    log.close(T0 + 4000);
    const rows = readHlog(path).map((i) => [i.tag, i.startMs - T0, i.endMs - T0, i.histogram.totalCount]);
    expect(rows).toEqual([
      ['handshake', 0, 1002, 3],
      ['handshake.init', 0, 1002, 2],
      ['handshake', 1000, 2000, 1],
      ['handshake', 2000, 3000, 2],
      ['handshake.ready', 3000, 4000, 1],
    ]);
  });
});

describe('IntervalLog: message round trips by the phase they were sent in', () => {
  it("go out with their worker's round as message-rtt.<phase>, beside the worker's own message-rtt, tags made safe", () => {
    const path = join(dir, 'messages.hlog');
    const log = new IntervalLog(path, T0, 1);
    log.addMessageRtt(0, 1.5, 'init');
    log.addMessageRtt(0, 2.5, 'init');
    log.addMessageRtt(0, 40, 'migrate&<seed>');
    log.addInterval(0, T0, T0 + 1000, { messageRtt: histogramOf([1.5e6, 2.5e6, 40e6]), messageSendLag: histogramOf([1e5, 2e5, 3e5]) });
    log.addMessageRtt(0, 3, 'ready'); // after the worker's last tick: written at close
    log.close(T0 + 1500);
    const rows = readHlog(path).map((i) => [i.tag, i.startMs - T0, i.endMs - T0, i.histogram.totalCount]);
    expect(rows).toEqual([
      ['message-rtt', 0, 1000, 3],
      ['message-send-lag', 0, 1000, 3],
      ['message-rtt.init', 0, 1000, 2],
      ['message-rtt.migrate__seed_', 0, 1000, 1],
      ['message-rtt.ready', 1000, 1500, 1],
    ]);
    expect(mergeHlog(path, 'message-rtt.init').getValueAtPercentile(100)).toBe(mergeHlog(path, 'message-rtt').getValueAtPercentile(50));
  });
});

describe('latency.hlog', () => {
  // Two tags, three intervals each (plus an empty one that must be skipped).
  const intervals = [
    { tag: 'handshake', from: T0, to: T0 + 1000, v: values(1, 300) },
    { tag: 'tcpConnect', from: T0, to: T0 + 1000, v: values(2, 50) },
    { tag: 'handshake', from: T0 + 1000, to: T0 + 2000, v: values(3, 500).concat([0, 4_000_000_000]) },
    { tag: 'tcpConnect', from: T0 + 1000, to: T0 + 2000, v: [] },
    { tag: 'handshake', from: T0 + 2000, to: T0 + 2500, v: [1000, 1001, 999_999] },
    { tag: 'tcpConnect', from: T0 + 2000, to: T0 + 2500, v: values(4, 70) },
  ];
  const path = join(dir, 'latency.hlog');
  const writer = new HlogWriter(path, { startTimeMs: T0 });
  for (const i of intervals) writer.append(i.tag, i.from, i.to, histogramOf(i.v));
  writer.close();

  const expected = (tag: string) => histogramOf(intervals.filter((i) => i.tag === tag).flatMap((i) => i.v));

  it('opens with Java HistogramLogWriter header lines', () => {
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.slice(0, 4)).toEqual([
      '#[Histogram log format version 1.3]',
      '#[StartTime: 1700000000.123 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]',
      '#[BaseTime: 1700000000.123 (seconds since epoch)]',
      '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"',
    ]);
    expect(lines[lines.length - 1]).toBe(''); // every line, the last included, is terminated
  });

  it('writes relative start, length and Interval_Max in ms (max/1e6); skips empty intervals', () => {
    const rows = readFileSync(path, 'utf8').split('\n').filter((l) => l.startsWith('Tag='));
    const nonEmpty = intervals.filter((i) => i.v.length > 0);
    expect(rows).toHaveLength(nonEmpty.length);
    rows.forEach((row, k) => {
      const [tag, start, length, max, base64] = row.split(',');
      const i = nonEmpty[k];
      expect(tag).toBe(`Tag=${i.tag}`);
      expect(start).toBe(((i.from - T0) / 1000).toFixed(3));
      expect(length).toBe(((i.to - i.from) / 1000).toFixed(3));
      expect(max).toBe((histogramOf(i.v).maxValue / 1e6).toFixed(3));
      expect(base64).toMatch(/^[A-Za-z0-9+/]+=*$/);
    });
    // Independent unit check: the largest recorded ns value / 1e6, to within HDR's 0.1% resolution
    // (hdr-histogram-js's own writer would print 1000x this).
    nonEmpty.forEach((i, k) => {
      const recordedMaxMs = Math.max(...i.v) / 1e6;
      const column = Number(rows[k].split(',')[3]);
      expect(column).toBeGreaterThanOrEqual(recordedMaxMs - 0.0005);
      expect(column).toBeLessThanOrEqual(recordedMaxMs * 1.001 + 0.0005);
    });
  });

  it('reads back with hdr-histogram-js HistogramLogReader: same counts and percentiles', () => {
    const reader = new hdr.HistogramLogReader(readFileSync(path, 'utf8'));
    const seen: { tag: string; count: number; start: number }[] = [];
    for (let h = reader.nextIntervalHistogram(); h; h = reader.nextIntervalHistogram()) {
      seen.push({ tag: h.tag, count: h.totalCount, start: Math.round(h.startTimeStampMsec) });
    }
    expect(seen).toEqual(intervals.filter((i) => i.v.length > 0).map((i) => ({ tag: i.tag, count: i.v.length, start: i.from })));
    expect(hdr.listTags(readFileSync(path, 'utf8'))).toEqual(['handshake', 'tcpConnect']);

    const read = readHlog(path);
    expect(read.map((r) => [r.tag, r.startMs, r.endMs])).toEqual(intervals.filter((i) => i.v.length > 0).map((i) => [i.tag, i.from, i.to]));

    for (const tag of ['handshake', 'tcpConnect']) {
      const merged = mergeHlog(path, tag);
      const want = expected(tag);
      expect(merged.totalCount).toBe(want.totalCount);
      expect(percentilesOf(merged)).toEqual(percentilesOf(want));
      // The encoding carries bucket counts, not the exact max: after decoding, max is only
      // known to bucket resolution (0.1%); the p100 comparison above is the exact one.
      expect(Math.abs(merged.maxValue - want.maxValue)).toBeLessThanOrEqual(want.maxValue * 0.001);
    }
    expect(mergeHlog(path, 'nope').totalCount).toBe(0);
  });

  it('replaces delimiters in tags', () => {
    const p = join(dir, 'tags.hlog');
    const w = new HlogWriter(p, { startTimeMs: T0 });
    w.append('close after,x y', T0, T0 + 1, histogramOf([5000]));
    w.close();
    expect(readHlog(p).map((r) => r.tag)).toEqual(['close_after_x_y']);
    expect(() => new HlogWriter(join(dir, 'x.hlog'), { startTimeMs: T0 }).append('', T0, T0 + 1, histogramOf([1]))).toThrow(/empty/);
  });

  it('keeps what was written when the process dies without close(), even with a torn last line', () => {
    const p = join(dir, 'crash.hlog');
    const w = new HlogWriter(p, { startTimeMs: T0 });
    w.append('handshake', T0, T0 + 1000, histogramOf(values(5, 100)));
    w.append('handshake', T0 + 1000, T0 + 2000, histogramOf(values(6, 100)));
    // No close(): the file must already hold both intervals.
    expect(readHlog(p).map((r) => r.histogram.totalCount)).toEqual([100, 100]);
    // A write cut off mid-line (what a kill during writeSync leaves) is ignored, not fatal.
    appendFileSync(p, 'Tag=handshake,2.000,1.000,3.000,HISTFAAAA');
    expect(readHlog(p).map((r) => r.histogram.totalCount)).toEqual([100, 100]);
    expect(mergeHlog(p, 'handshake').totalCount).toBe(200);
    w.close(); // only to release the fd in this test process
    expect(() => w.append('handshake', T0, T0 + 1, histogramOf([1]))).toThrow(/after close/);
  });
});

describe('.hgrm percentile distribution', () => {
  // Parses like the HdrHistogram plotter: skip '#' lines and the header, split on whitespace.
  function rows(text: string): number[][] {
    return text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('Value'))
      .map((l) => l.split(/\s+/).map(Number));
  }

  it('is in ms, Java layout, with footer; p50 row matches getValueAtPercentile(50)/1e6', () => {
    const h = histogramOf(values(7, 2000));
    const text = percentileDistribution(h);
    expect(text.startsWith('       Value     Percentile TotalCount 1/(1-Percentile)\n\n')).toBe(true);
    const data = rows(text);
    expect(data.length).toBeGreaterThan(20);
    // Every row has 4 numeric columns, except the final 100% row which (as in Java) has 3:
    // its 1/(1-Percentile) would be infinite.
    for (const r of data.slice(0, -1)) {
      expect(r).toHaveLength(4);
      expect(r.every(Number.isFinite)).toBe(true);
    }
    expect(data[data.length - 1]).toHaveLength(3);
    expect(data[data.length - 1][1]).toBe(1);
    expect(data[data.length - 1][2]).toBe(2000);

    const p50 = data.find((r) => r[1] === 0.5);
    expect(p50).toBeDefined();
    expect(Math.abs(p50![0] - h.getValueAtPercentile(50) / 1e6)).toBeLessThanOrEqual(0.0005);

    expect(text).toMatch(/^#\[Mean {4}= +\d+\.\d{3}, StdDeviation {3}= +\d+\.\d{3}\]$/m);
    expect(text).toContain(`#[Max     = ${(h.maxValue / 1e6).toFixed(3).padStart(12)}, Total count    = ${'2000'.padStart(12)}]\n`);
    expect(text).toMatch(/^#\[Buckets = +\d+, SubBuckets {5}= +\d+\]\n$/m);
  });

  it('renders an empty histogram as header + zero footer', () => {
    const text = percentileDistribution(createHistogram());
    expect(rows(text)).toEqual([]);
    expect(text).toContain('#[Mean    =        0.000, StdDeviation   =        0.000]\n');
    expect(text).toContain('#[Max     =        0.000, Total count    =            0]\n');
  });

  it('writes <name>.hgrm for non-empty histograms only', () => {
    const out = join(dir, 'hgrm');
    const files = writeHgrmFiles(out, { handshake: histogramOf([1_000_000, 2_000_000]), upgrade: createHistogram() });
    expect(files).toEqual(['handshake.hgrm']);
    expect(readdirSync(out)).toEqual(['handshake.hgrm']);
    expect(readFileSync(join(out, 'handshake.hgrm'), 'utf8')).toContain('Total count    =            2]');
    expect(() => writeHgrmFiles(out, { '../evil': histogramOf([1]) })).toThrow(/unsafe/);
  });
});

describe('junit.xml', () => {
  /**
   * Minimal well-formedness check: one root, balanced and properly nested tags, quoted attributes
   * with no raw '<', and no '&' that is not a known entity or character reference. Returns the
   * element names in document order.
   */
  function checkWellFormed(xml: string): string[] {
    const body = xml.replace(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n/, '');
    const tag = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"<]*")*)\s*(\/?)>/g;
    const badAmp = /&(?!(?:amp|lt|gt|quot|apos|#\d+);)/;
    const stack: string[] = [];
    const names: string[] = [];
    let roots = 0;
    let last = 0;
    for (let m = tag.exec(body); m; m = tag.exec(body)) {
      const text = body.slice(last, m.index);
      expect(text).not.toMatch(/[<>]/);
      expect(text).not.toMatch(badAmp);
      expect(m[3]).not.toMatch(badAmp);
      const [, closing, name, , selfClosing] = m;
      if (closing) {
        expect(stack.pop()).toBe(name);
      } else {
        if (stack.length === 0) roots++;
        names.push(name);
        if (!selfClosing) stack.push(name);
      }
      last = tag.lastIndex;
    }
    expect(body.slice(last).trim()).toBe('');
    expect(stack).toEqual([]);
    expect(roots).toBe(1);
    return names;
  }

  const attr = (xml: string, element: string, name: string) => new RegExp(`<${element}\\b[^>]*\\s${name}="([^"]*)"`).exec(xml)?.[1];
  const unescape = (s: string) =>
    s.replace(/&(amp|lt|gt|quot|apos|#\d+);/g, (_, e: string) =>
      e.startsWith('#') ? String.fromCharCode(Number(e.slice(1))) : ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e],
    );

  const base: JunitInput = {
    scenario: 'cold-start',
    durationMs: 12_345,
    verdict: 'fail',
    partial: false,
    interruptedBy: null,
    workers: [{ worker: 0, error: null }],
    thresholds: [
      { expr: 'handshakeMs.p99 < 500', ok: true, actual: 120.5 },
      { expr: 'totals.closeCodes.1011 == 0', ok: false, actual: 3 },
      { expr: 'firstMessageMs.p99 < 10', ok: false, actual: null },
    ],
    totals: { attempted: 1000 },
    outDir: '/tmp/out',
  };

  it('has one suite, one case per threshold plus the run, failures for failing thresholds', () => {
    const xml = renderJunit(base);
    const names = checkWellFormed(xml);
    expect(names.filter((n) => n === 'testsuite')).toHaveLength(1);
    expect(names.filter((n) => n === 'testcase')).toHaveLength(4);
    expect(names.filter((n) => n === 'failure')).toHaveLength(2);
    for (const el of ['testsuites', 'testsuite']) {
      expect(attr(xml, el, 'tests')).toBe('4');
      expect(attr(xml, el, 'failures')).toBe('2');
      expect(attr(xml, el, 'errors')).toBe('0');
      expect(attr(xml, el, 'time')).toBe('12.345');
    }
    expect(attr(xml, 'testsuite', 'name')).toBe('wsrace.cold-start');
    expect(xml).toContain('<testcase classname="wsrace.cold-start" name="run completed" time="12.345"/>');
    expect(xml).toContain('<testcase classname="wsrace.cold-start.thresholds" name="handshakeMs.p99 &lt; 500" time="0.000"/>');
    expect(xml).toContain(
      '<testcase classname="wsrace.cold-start.thresholds" name="totals.closeCodes.1011 == 0" time="0.000">\n' +
        '      <failure message="expected totals.closeCodes.1011 == 0, actual 3" type="threshold">expected: totals.closeCodes.1011 == 0\nactual: 3</failure>\n' +
        '    </testcase>',
    );
    expect(xml).toContain('message="expected firstMessageMs.p99 &lt; 10, actual none"');
  });

  it('fails "run completed" when the run was partial or a worker failed, saying why', () => {
    const xml = renderJunit({
      ...base,
      thresholds: [],
      partial: true,
      interruptedBy: 'SIGINT',
      workers: [
        { worker: 0, error: null },
        { worker: 1, error: 'ECONNRESET' },
      ],
    });
    checkWellFormed(xml);
    expect(attr(xml, 'testsuite', 'tests')).toBe('1');
    expect(attr(xml, 'testsuite', 'failures')).toBe('1');
    expect(xml).toContain(
      '<failure message="run interrupted: SIGINT; worker 1 failed: ECONNRESET" type="run">run interrupted: SIGINT\nworker 1 failed: ECONNRESET\nattempted: 1000\nreports: /tmp/out</failure>',
    );
    const partialOnly = renderJunit({ ...base, thresholds: [], partial: true, interruptedBy: null });
    expect(partialOnly).toContain('message="run did not complete (partial results)"');
    expect(attr(renderJunit({ ...base, thresholds: [] }), 'testsuite', 'failures')).toBe('0');
  });

  it('escapes markup and quotes, and drops characters XML 1.0 cannot hold', () => {
    const nasty = `<script>&"'`;
    const xml = renderJunit({
      ...base,
      scenario: `s${nasty}`,
      partial: true,
      interruptedBy: `close 1011: ${nasty}\x00\x07\x0b\x0c\x1b\ud800 end`,
      workers: [{ worker: 3, error: `boom ${nasty}\nline2` }],
      thresholds: [{ expr: `totals.errors.${nasty} == 0`, ok: false, actual: 1 }],
    });
    checkWellFormed(xml);
    expect(xml).not.toContain('<script>');
    expect(xml).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f]/);
    expect(xml).not.toMatch(/[\ud800-\udfff]/);
    expect(xml).toContain('&lt;script&gt;&amp;&quot;&apos;');
    expect(attr(xml, 'testsuite', 'name')).toBe('wsrace.s&lt;script&gt;&amp;&quot;&apos;');
    expect(unescape(attr(xml, 'testsuite', 'name')!)).toBe(`wsrace.s${nasty}`);
    expect(unescape(/<testcase[^>]*\.thresholds" name="([^"]*)"/.exec(xml)![1])).toBe(`totals.errors.${nasty} == 0`);
    // Newlines inside an attribute survive as &#10; rather than being normalised to spaces.
    const runFailure = unescape(/<failure message="([^"]*)" type="run">/.exec(xml)![1]);
    expect(runFailure).toBe(`run interrupted: close 1011: ${nasty} end; worker 3 failed: boom ${nasty}\nline2`);
    expect(xml).toContain(`expected: totals.errors.&lt;script&gt;&amp;&quot;&apos; == 0\nactual: 1</failure>`);
  });
});
