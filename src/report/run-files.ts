import { existsSync, lstatSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Histogram } from 'hdr-histogram-js';
import type { Scenario } from '../scenario/schema.js';
import { METRICS, type Metric } from '../record/histogram.js';
import { METRIC_TAGS } from '../record/interval-log.js';
import { writeHgrmFiles } from './hgrm.js';
import { renderJunit } from './junit.js';
import { renderHtmlReport } from './html.js';
import { loadReportData } from './html-data.js';
import { REDACTED, redactHeaders, redactSubprotocols, redactUrl, redactValues } from './redact.js';
import type { Summary } from './summary.js';

/** scenario.json: the scenario as it ran (defaults filled, ${VAR}s resolved), secrets redacted. */
export function writeScenarioCopy(outDir: string, scenario: Scenario, secrets: readonly string[] = []): void {
  const redactEnv = (env?: Record<string, string>) => env && Object.fromEntries(Object.keys(env).map((k) => [k, REDACTED]));
  const copy = {
    ...scenario,
    target: {
      ...scenario.target,
      url: redactUrl(scenario.target.url),
      headers: redactHeaders(scenario.target.headers, scenario.target.secretHeaders),
      subprotocols: redactSubprotocols(scenario.target.subprotocols),
      start: scenario.target.start && { ...scenario.target.start, env: redactEnv(scenario.target.start.env) },
    },
    timeline: scenario.timeline && {
      ...scenario.timeline,
      health: scenario.timeline.health && { ...scenario.timeline.health, url: redactUrl(scenario.timeline.health.url) },
    },
    output: scenario.output?.prometheus && { prometheus: redactExportUrls(scenario.output.prometheus) },
  };
  writeFileSync(join(outDir, 'scenario.json'), JSON.stringify(redactValues(copy, secrets), null, 2) + '\n');
}

/** output.prometheus with its URLs redacted like the target's (a token in user info or the query). */
function redactExportUrls(p: NonNullable<NonNullable<Scenario['output']>['prometheus']>): typeof p {
  return { ...p, pushgateway: p.pushgateway && redactUrl(p.pushgateway), remoteWrite: p.remoteWrite && redactUrl(p.remoteWrite) };
}

/** The files written once a run (or a merge) has its summary: .hgrm per metric, junit.xml, report.html. */
export async function writeRunReports(outDir: string, summary: Summary, histograms: Record<Metric, Histogram>): Promise<void> {
  writeHgrmFiles(outDir, Object.fromEntries(METRICS.map((m) => [METRIC_TAGS[m], histograms[m]])));
  await writeDerivedReports(outDir, summary);
}

/** junit.xml and report.html: everything derived from summary.json and events.ndjson alone. */
export async function writeDerivedReports(outDir: string, summary: Summary): Promise<void> {
  writeFileSync(join(outDir, 'junit.xml'), renderJunit({ ...summary, outDir }));
  writeFileSync(join(outDir, 'report.html'), renderHtmlReport(await loadReportData(outDir)));
}

/**
 * reports/<name>/latest → the newest run folder, so a nightly job can compare against the last
 * run. Only when the run folder sits directly in its scenario's folder (reports/<name>/<stamp>).
 */
export function pointLatest(outDir: string, name: string): void {
  if (basename(dirname(resolve(outDir))) !== name) return;
  const parent = dirname(outDir);
  const link = join(parent, 'latest');
  try {
    if (existsSync(link) || isLink(link)) {
      if (!isLink(link)) return; // a real folder named latest: not ours to replace
    }
    const tmp = join(parent, `.latest-${process.pid}`);
    symlinkSync(basename(outDir), tmp);
    renameSync(tmp, link);
  } catch {
    /* best effort: a read-only or odd folder must not fail the run */
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

