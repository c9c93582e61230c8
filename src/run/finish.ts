import { writeFileSync } from 'node:fs';
import { clientsReport } from '../timeline/clients-report.js';
import { join } from 'node:path';
import { now } from '../util/clock.js';
import { scheduleDurationMs, peakRate } from '../schedule/arrival.js';
import type { Engine } from '../engine/pool.js';
import { TimelineSources } from '../timeline/sources.js';
import type { Attribution } from '../timeline/phase-report.js';
import { attributeRunFiles } from './attribute-run.js';
import type { PhaseTimeline } from '../timeline/attribute.js';
import { summarizeTimeline, type TimelineSummary } from '../report/assemble.js';
import { buildSummary, type ExportsReport, type SummaryInput } from '../report/summary.js';
import { redactHeaders, redactSubprotocols, redactUrl, redactValues } from '../report/redact.js';
import { writeRunReports, pointLatest } from '../report/run-files.js';
import type { LiveTimeline } from './live-timeline.js';
import type { RunResult } from './options.js';
import type { Recorder } from './recorder.js';
import type { RunSettings } from './settings.js';

/** A run whose workers are done and whose files are closed, with what it went through. */
export interface EndedRun {
  settings: RunSettings;
  outDir: string;
  startedAt: Date;
  t0: number;
  engine: Engine;
  recorder: Recorder;
  live: LiveTimeline;
  /** How late this shard started after --start-at, past the tolerance. */
  lateByMs: number | null;
  interruptedBy: string | null;
  /** The abortOnFail threshold that stopped the run, when one did. */
  abortedBy: string | null;
  /** Live metrics' ways out and what they delivered; absent when none was asked for. */
  exports?: ExportsReport;
}

/** Counts the lost attempts, attributes every attempt to its phase, writes summary.json and the reports. */
export async function finish(run: EndedRun): Promise<RunResult> {
  await run.recorder.addLost(run.engine.lostRecords());
  const { summary: timelineSummary, timeline } = summarizeTimeline(run.live.collector.events, run.t0, run.settings.readyFrom);
  const attribution = await attributeRunFiles(run.outDir, timeline);
  const summary = buildSummary(summaryInput(run, timelineSummary, timeline, attribution));
  writeFileSync(join(run.outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  await writeRunReports(run.outDir, summary, run.engine.histograms);
  pointLatest(run.outDir, run.settings.scenario.name);
  return { summary, outDir: run.outDir, exitCode: summary.verdict === 'pass' ? 0 : 1 };
}

function summaryInput(run: EndedRun, timelineSummary: TimelineSummary, timeline: PhaseTimeline, attribution: Attribution): SummaryInput {
  const { settings: s, engine, recorder, t0 } = run;
  const { scenario, loaded, connection, stages } = s;
  const workers = engine.workers.map((w) => ({ worker: w.worker, scheduled: w.scheduled, nice: w.nice, error: w.error }));
  const scheduled = s.scheduled + run.live.burstSent;
  return {
    scenario: scenario.name,
    scenarioFile: loaded.file,
    target: redactValues(
      {
        url: redactUrl(connection.url),
        headers: redactHeaders(connection.headers, scenario.target.secretHeaders),
        subprotocols: redactSubprotocols(connection.subprotocols),
      },
      loaded.secrets,
    ),
    startedAt: run.startedAt.toISOString(),
    t0: new Date(t0).toISOString(),
    t0EpochMs: t0,
    readyFrom: s.readyFrom,
    durationMs: Math.round(now() - t0),
    partial: run.interruptedBy !== null || run.abortedBy !== null || workers.some((w) => w.error !== null) || recorder.firstTries < scheduled,
    interruptedBy: run.interruptedBy,
    abortedBy: run.abortedBy,
    workers,
    shard: s.shard ? { ...s.shard, lateByMs: run.lateByMs, leader: s.leader } : null,
    limits: { openFiles: s.plan.fdLimit, maxSockets: s.plan.capacity },
    schedule: { scheduled, durationMs: scheduleDurationMs(stages), startAfterMs: scenario.load.startAfter, peakRate: peakRate(stages), onReadyBurst: run.live.burstSent, spinBudget: s.spinBudget, ...(s.nice?.exact ? { nice: s.nice.nice } : {}) },
    totals: recorder.totals,
    steps: recorder.stepReports(connection.steps, engine.stepHistograms),
    clients: clientsReport(recorder.clients.clients(), timeline, t0, recorder.clients.reconnects),
    histograms: engine.histograms,
    thresholdDefs: loaded.thresholds,
    timeline: timelineSummary,
    attribution,
    hasTimelineSource: TimelineSources.configured(scenario),
    streams: connection.stream !== null || connection.serverSeq !== null,
    ...(run.exports ? { exports: run.exports } : {}),
  };
}
