import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Histogram } from 'hdr-histogram-js';
import { InputError } from '../scenario/errors.js';
import { METRICS, createHistogram, type Metric } from '../record/histogram.js';
import { METRIC_TAGS } from '../record/interval-log.js';
import { emptyTotals, mergeTotals } from '../record/totals.js';
import { HlogWriter } from '../record/hlog-writer.js';
import { readHlog } from '../report/hlog.js';
import { summarizeTimeline } from '../report/assemble.js';
import { buildSummary, thresholdsOf, type Summary } from '../report/summary.js';
import { writeRunReports } from '../report/run-files.js';
import { attributeRunFiles, scenarioOf } from './attribute-run.js';
import { servedAfterOf } from '../record/clients.js';
import { EventClients } from '../timeline/clients-report.js';
import { loadRunTimeline, timelineLine } from '../timeline/supplied.js';
import type { TimelineEvent } from '../timeline/types.js';
import { readSummary } from './correlate.js';
import { LineCursor } from '../util/line-file.js';
import { writeSortedLines, type KeyedLine } from '../util/sorted-lines.js';
import { round3 } from '../util/round.js';

/** One shard's run folder, read and checked. */
interface ShardRun {
  dir: string;
  summary: Summary;
  shard: NonNullable<Summary['shard']>;
  /** Its T0, epoch ms. */
  t0: number;
}

/**
 * Merges shard run folders into one: counts summed, histograms added from each shard's interval
 * log (never percentiles averaged), events and intervals in time order on the earliest T0, the
 * timeline from the shards that watched it, attribution and thresholds on the merged result.
 */
export async function mergeRuns(dirs: string[], outDir: string): Promise<Summary> {
  const shards = readShards(dirs);
  mkdirSync(outDir, { recursive: true });
  const t0 = Math.min(...shards.map((s) => s.t0));
  mergeEvents(shards, t0, outDir);
  mergeMessages(shards, t0, outDir);
  const histograms = mergeIntervalLogs(shards, t0, outDir);
  const timelineEvents = mergeTimelines(shards, t0, outDir);
  // The shard that watched the cold start: marked leader, else shard 0 (older summaries).
  const leader = shards.find((s) => s.shard.leader === true) ?? shards.find((s) => s.shard.index === 0) ?? shards[0];
  const readyFrom = leader.summary.readyFrom === 'supplied' ? null : leader.summary.readyFrom;
  const { summary: timelineSummary, timeline } = summarizeTimeline(timelineEvents, t0, readyFrom);
  // Reconnecting clients: each shard's tracker saw only its share, so the merge follows them again, in the same pass.
  const scenario = scenarioOf(leader.dir);
  const clients = shards.some((s) => s.summary.clients) ? new EventClients(leader.summary.messages !== undefined, t0, servedAfterOf(scenario)) : null;
  const attribution = await attributeRunFiles(outDir, timeline, { scenario, visit: clients ? (e) => clients.add(e) : undefined });
  const clientsBlock = clients?.report(timeline);
  // Shards written before events.ndjson marked who gave up cannot say it: leave the count out rather than claim none did.
  if (clientsBlock && shards.some((s) => s.summary.clients && s.summary.clients.gaveUp === undefined)) delete clientsBlock.gaveUp;
  const summary = buildSummary({
    ...mergedRecord(shards, leader, t0),
    ...(clientsBlock ? { clients: clientsBlock } : {}),
    histograms,
    thresholdDefs: thresholdsOf(leader.summary, join(leader.dir, 'summary.json')),
    timeline: timelineSummary,
    attribution,
    // A process's exit and a deploy's launch are not a startup being watched.
    hasTimelineSource: timelineEvents.some((e) => e.kind !== 'exit' && e.kind !== 'deploy'),
    streams: leader.summary.messages !== undefined,
  });
  sayWhatWasMerged(summary, shards);
  writeFileSync(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  writeFileSync(join(outDir, 'scenario.json'), readFileSync(join(leader.dir, 'scenario.json')));
  await writeRunReports(outDir, summary, histograms);
  return summary;
}

/** Reads the shards' summaries; only the shards of one run add up (two whole runs, or one twice, would count attempts twice). */
function readShards(dirs: string[]): ShardRun[] {
  if (dirs.length === 0) throw new InputError('merge: give at least one run folder');
  const runs = dirs.map((dir) => ({ dir: resolve(dir), summary: readSummary(dir) }));
  const names = new Set(runs.map((s) => s.summary.scenario));
  if (names.size > 1) throw new InputError(`merge: the run folders are of different scenarios (${[...names].join(', ')})`);
  const real = new Set<string>();
  const seen = new Set<string>();
  return runs.map((s) => {
    const path = realpathSync(s.dir);
    if (real.has(path)) throw new InputError(`merge: ${s.dir} is given twice`);
    real.add(path);
    const shard = s.summary.shard;
    if (!shard) throw new InputError(`merge: ${s.dir} is a whole run, not a shard (its summary.json has no shard): merge takes the folders of one run started with --shard K/N`);
    const key = `${shard.index}/${shard.count}`;
    const count = runs[0].summary.shard?.count;
    if (shard.count !== count) throw new InputError(`merge: ${s.dir} is shard ${key}, ${runs[0].dir} of ${count}: the shards of one run have one N`);
    if (seen.has(key)) throw new InputError(`merge: shard ${key} appears twice (${s.dir})`);
    seen.add(key);
    return { ...s, shard, t0: s.summary.t0EpochMs ?? Date.parse(s.summary.t0) };
  });
}

/** events.ndjson: every shard's lines, shifted to the merged T0, sorted by scheduled start. */
function mergeEvents(shards: ShardRun[], t0: number, outDir: string): void {
  mergeLines(shards, t0, outDir, 'events.ndjson', ['sched', 'start', 'tcp', 'tls', 'up', 'open', 'first', 'ok', 'reply', 'end'], (e) => e.sched as number);
}

/** messages.ndjson, when the shards streamed: every shard's lines on the merged clock, by the time each was sent (or came). */
function mergeMessages(shards: ShardRun[], t0: number, outDir: string): void {
  if (!shards.some((s) => existsSync(join(s.dir, 'messages.ndjson')))) return;
  mergeLines(shards, t0, outDir, 'messages.ndjson', ['sent', 'at'], (m) => (m.sent ?? m.at) as number);
}

/**
 * One NDJSON file of every shard, its `times` shifted to the merged T0, tagged with the shard, sorted
 * by `key` (ties in shard order, then file order). Streamed through an external sort: a shard
 * writes its lines as attempts end, roughly but not strictly in order of `key`, and a run of
 * millions must merge in bounded memory.
 */
function mergeLines(shards: ShardRun[], t0: number, outDir: string, file: string, times: string[], key: (line: Record<string, unknown>) => number): void {
  for (const s of shards) if (!existsSync(join(s.dir, file))) throw new InputError(`merge: ${s.dir} has no ${file}`);
  const sources = shards.map((s) => shiftedLines(s, s.t0 - t0, file, times, key));
  writeSortedLines(sources, join(outDir, file), { tmpDir: outDir });
}

/** A shard's lines of `file`, each with its `times` moved by `shift` ms, its phase dropped (the merge attributes again) and the shard's index. */
function* shiftedLines(s: ShardRun, shift: number, file: string, times: string[], key: (line: Record<string, unknown>) => number): Generator<KeyedLine> {
  const lines = new LineCursor(join(s.dir, file));
  for (let text = lines.next(); text !== null; text = lines.next()) {
    if (!text.trim()) continue;
    const e = JSON.parse(text) as Record<string, unknown>;
    delete e.phase;
    for (const k of times) if (typeof e[k] === 'number') e[k] = round3((e[k] as number) + shift);
    e.shard = s.shard.index;
    yield { at: key(e), text: JSON.stringify(e) };
  }
}

/** latency.hlog: all intervals in time order; the totals per metric added from them. */
function mergeIntervalLogs(shards: ShardRun[], t0: number, outDir: string): Record<Metric, Histogram> {
  const histograms = Object.fromEntries(METRICS.map((m) => [m, createHistogram()])) as Record<Metric, Histogram>;
  const tagToMetric = new Map(METRICS.map((m) => [METRIC_TAGS[m], m]));
  const intervals = shards.flatMap((s) => readHlog(join(s.dir, 'latency.hlog')));
  intervals.sort((a, b) => a.startMs - b.startMs);
  const hlog = new HlogWriter(join(outDir, 'latency.hlog'), { startTimeMs: t0 });
  for (const interval of intervals) {
    hlog.append(interval.tag, interval.startMs, interval.endMs, interval.histogram);
    const metric = tagToMetric.get(interval.tag);
    if (metric) histograms[metric].add(interval.histogram);
  }
  hlog.close();
  return histograms;
}

/** timeline.ndjson: the events the watching shard(s) saw, on the merged clock. */
function mergeTimelines(shards: ShardRun[], t0: number, outDir: string): TimelineEvent[] {
  const events = shards.flatMap((s) => loadRunTimeline(join(s.dir, 'timeline.ndjson'), s.t0));
  events.sort((a, b) => a.at - b.at);
  writeFileSync(join(outDir, 'timeline.ndjson'), events.map((e) => timelineLine(e, t0)).join('\n') + (events.length ? '\n' : ''));
  return events;
}

/** The merged summary's record of the run: the leader's settings, the shards' counts and workers added up. */
function mergedRecord(shards: ShardRun[], leader: ShardRun, t0: number) {
  const ls = leader.summary;
  return {
    scenario: ls.scenario,
    scenarioFile: ls.scenarioFile,
    target: ls.target,
    startedAt: shards.map((s) => s.summary.startedAt).sort()[0],
    t0: new Date(t0).toISOString(),
    t0EpochMs: t0,
    readyFrom: ls.readyFrom,
    durationMs: Math.round(Math.max(...shards.map((s) => s.t0 + s.summary.durationMs)) - t0),
    partial: shards.some((s) => s.summary.partial),
    interruptedBy: shards.map((s) => s.summary.interruptedBy).find((x) => x !== null) ?? null,
    abortedBy: shards.map((s) => s.summary.abortedBy ?? null).find((x) => x !== null) ?? null,
    workers: shards.flatMap((s) => s.summary.workers),
    shard: null,
    shards: shards.map((s) => ({
      dir: s.dir,
      index: s.shard.index,
      count: s.shard.count,
      attempted: s.summary.totals.attempted,
      partial: s.summary.partial,
      failedWorkers: s.summary.workers.filter((w) => w.error !== null).map((w) => w.worker),
    })),
    limits: ls.limits,
    schedule: {
      ...ls.schedule,
      scheduled: shards.reduce((n, s) => n + s.summary.schedule.scheduled, 0),
      onReadyBurst: shards.reduce((n, s) => n + s.summary.schedule.onReadyBurst, 0),
      // One budget (and nice) when the shards agree; shards on different machines may not (then: absent).
      spinBudget: shards.every((s) => s.summary.schedule.spinBudget === ls.schedule.spinBudget) ? ls.schedule.spinBudget : undefined,
      nice: shards.every((s) => s.summary.schedule.nice === ls.schedule.nice) ? ls.schedule.nice : undefined,
    },
    totals: shards.reduce((acc, s) => mergeTotals(acc, s.summary.totals), emptyTotals()),
  };
}

/** Findings: shards missing from the merge make it partial; which shards were partial or failed. */
function sayWhatWasMerged(summary: Summary, shards: ShardRun[]): void {
  const shardCount = shards[0].shard.count;
  if (shards.length < shardCount) {
    summary.findings.unshift(`merged ${shards.length} of ${shardCount} shards: the result is missing ${shardCount - shards.length} shard(s)`);
    summary.partial = true;
  }
  const failed = summary.shards!.filter((s) => s.partial);
  summary.findings.push(`merged from ${shards.length} shard${shards.length === 1 ? '' : 's'}${failed.length ? `; partial or failed: ${failed.map((s) => (s.index ?? s.dir)).join(', ')}` : ''}`);
}
