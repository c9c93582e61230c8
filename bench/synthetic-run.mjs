// A synthetic sharded run of any size, written with wsrace's own writers (events.ndjson lines,
// the interval log, summary.json from buildSummary), for measuring `wsrace merge` and `compare`
// on runs far larger than a test can make for real. No sockets: the attempts are made up,
// deterministically (the same arguments give the same bytes, but for the summaries' startedAt).
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { eventLine } from '../dist/record/events-file.js';
import { addAttempt, emptyTotals } from '../dist/record/totals.js';
import { METRICS, createHistogram, recordMs } from '../dist/record/histogram.js';
import { METRIC_TAGS } from '../dist/record/interval-log.js';
import { HlogWriter } from '../dist/record/hlog-writer.js';
import { buildSummary } from '../dist/report/summary.js';
import { summarizeTimeline } from '../dist/report/assemble.js';
import { PhaseAttributor } from '../dist/timeline/phase-report.js';

const T0 = Date.UTC(2026, 0, 1); // epoch ms of shard 0's T0
const r3 = (/** @type {number} */ x) => Math.round(x * 1000) / 1000;

/**
 * Attempt `i` of a schedule at `rate` per second, times in ms since the run's T0: one in 100 is
 * refused 503 before it opens, one in 97 (of the rest) is closed 1011 by the server, the others
 * closed 1000 by wsrace after a hold of 20–69 ms, so lines end (and are written) out of order.
 * @param {number} i
 * @param {number} rate
 * @param {number} shift how much later this shard's T0 is than the run's, ms
 * @returns {import('../dist/record/attempt.js').AttemptRecord}
 */
export function syntheticAttempt(i, rate, shift) {
  const sched = r3((i * 1000) / rate - shift);
  const start = r3(sched + 0.05 + (i % 7) * 0.01);
  const hs = 1 + ((i * 7919) % 1000) / 100;
  if (i % 100 === 0) return { i, w: 0, sched, start, tcp: r3(start + 0.2), up: null, open: null, first: null, end: r3(start + hs), outcome: 'http', status: 503 };
  const open = r3(start + hs);
  const end = r3(open + 20 + (i % 50));
  if (i % 97 === 0) return { i, w: 0, sched, start, tcp: r3(start + 0.2), up: r3(open - 0.1), open, first: null, end, outcome: 'close', code: 1011, serverClosed: true };
  return { i, w: 0, sched, start, tcp: r3(start + 0.2), up: r3(open - 0.1), open, first: null, end, outcome: 'close', code: 1000, serverClosed: false };
}

/**
 * Writes shard `index` of `count` (attempts index, index+count, … below `attempts`) to `dir`:
 * events.ndjson in the order attempts end (blocks of 4096 sorted by end: roughly, not strictly,
 * in scheduled order, like a real shard), latency.hlog with the handshakes in 10 s intervals,
 * summary.json, scenario.json and an empty timeline.ndjson.
 * @param {string} dir
 * @param {{ index: number, count: number, attempts: number, rate: number }} o
 */
export function writeSyntheticShard(dir, { index, count, attempts, rate }) {
  mkdirSync(dir, { recursive: true });
  const shift = index * 0.25; // each shard's T0 a little later, so the merge shifts its times
  const t0 = T0 + shift;
  const totals = emptyTotals();
  const histograms = /** @type {Record<import('../dist/record/histogram.js').Metric, import('hdr-histogram-js').Histogram>} */ (Object.fromEntries(METRICS.map((m) => [m, createHistogram()])));
  const { summary: timelineSummary, timeline } = summarizeTimeline([], t0, null);
  const attributor = new PhaseAttributor(timeline);
  const hlog = new HlogWriter(join(dir, 'latency.hlog'), { startTimeMs: t0 });
  const fd = openSync(join(dir, 'events.ndjson'), 'w');
  let interval = createHistogram();
  let intervalEnd = 10_000;
  const flushInterval = () => {
    hlog.append(METRIC_TAGS.handshake, t0 + intervalEnd - 10_000, t0 + intervalEnd, interval);
    histograms.handshake.add(interval);
    interval = createHistogram();
  };
  /** @type {{ r: import('../dist/record/attempt.js').AttemptRecord, phase: string }[]} */
  let block = [];
  const writeBlock = () => {
    block.sort((a, b) => a.r.end - b.r.end);
    writeSync(fd, block.map(({ r, phase }) => eventLine(r, 0, { phase })).join('\n') + '\n');
    block = [];
  };
  let scheduled = 0;
  for (let i = index; i < attempts; i += count, scheduled++) {
    const r = syntheticAttempt(i, rate, shift);
    while (r.sched >= intervalEnd) {
      flushInterval();
      intervalEnd += 10_000;
    }
    if (r.open !== null) recordMs(interval, r.open - r.sched);
    addAttempt(totals, r);
    block.push({ r, phase: attributor.add(r) }); // a run writes each attempt's phase
    if (block.length === 4096) writeBlock();
  }
  if (block.length) writeBlock();
  flushInterval();
  closeSync(fd);
  hlog.close();
  writeFileSync(join(dir, 'timeline.ndjson'), '');
  const durationMs = Math.round((attempts * 1000) / rate + 100);
  const summary = buildSummary({
    scenario: 'big-run',
    scenarioFile: 'big-run.yaml',
    target: { url: 'ws://127.0.0.1:9/ws', headers: {}, subprotocols: [] },
    startedAt: new Date(t0).toISOString(),
    t0: new Date(t0).toISOString(),
    t0EpochMs: t0,
    readyFrom: null,
    durationMs,
    partial: false,
    interruptedBy: null,
    abortedBy: null,
    workers: [{ worker: 0, scheduled, error: null }],
    shard: { index, count, lateByMs: null, leader: index === 0 },
    limits: { openFiles: null, maxSockets: 1_000_000 },
    schedule: { scheduled, durationMs: (attempts * 1000) / rate, startAfterMs: 0, peakRate: rate / count, onReadyBurst: 0 },
    totals,
    histograms,
    thresholdDefs: [],
    timeline: timelineSummary,
    attribution: attributor.result(),
    hasTimelineSource: false,
    streams: false,
  });
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  writeFileSync(join(dir, 'scenario.json'), JSON.stringify({ name: 'big-run', target: { url: 'ws://127.0.0.1:9/ws' }, load: { stages: [{ duration: durationMs, rate }] } }, null, 2) + '\n');
  return summary;
}

/**
 * A whole synthetic run: `shards` folders shard-0 … under `root`.
 * @param {string} root
 * @param {{ attempts: number, shards: number, rate: number }} o
 * @returns {string[]} the shard folders
 */
export function writeSyntheticRun(root, { attempts, shards, rate }) {
  const dirs = [];
  for (let index = 0; index < shards; index++) {
    const dir = join(root, `shard-${index}`);
    writeSyntheticShard(dir, { index, count: shards, attempts, rate });
    dirs.push(dir);
  }
  return dirs;
}
