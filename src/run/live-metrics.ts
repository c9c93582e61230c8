import { basename } from 'node:path';
import { now } from '../util/clock.js';
import type { AttemptRecord } from '../record/attempt.js';
import { MESSAGE_FIELDS } from '../record/messages.js';
import { phaseAt } from '../timeline/attribute.js';
import type { EngineListener, EngineTick, OpenNow } from '../engine/pool.js';
import type { ExportsReport } from '../report/summary.js';
import { WsraceMetrics } from '../metrics/registry.js';
import { MetricsExports, type ExportSettings } from '../metrics/exports.js';
import { remoteWriteHeaders } from '../metrics/remote-write.js';
import { RunError } from './errors.js';
import type { PhaseSource, Recorder } from './recorder.js';
import type { RunSettings } from './settings.js';
import type { RunOptions } from './options.js';
import type { Histogram } from 'hdr-histogram-js';
import type { Metric } from '../record/histogram.js';
import { notLive, type Threshold } from '../scenario/thresholds.js';
import { evaluateThresholds } from '../report/thresholds.js';
import { liveView } from '../report/live-thresholds.js';

/** The flags over the scenario's output.prometheus; null when neither asks for live metrics. */
export function exportSettings(s: RunSettings, options: RunOptions): ExportSettings | null {
  const fromFile = s.scenario.output?.prometheus ?? {};
  const flags = options.metrics ?? {};
  const out: ExportSettings = {
    listen: flags.listen ?? fromFile.listen,
    lingerMs: flags.lingerMs ?? fromFile.linger,
    pushgateway: flags.pushgateway ?? fromFile.pushgateway,
    remoteWrite: flags.remoteWrite ?? fromFile.remoteWrite,
    pushEveryMs: flags.pushEveryMs,
    timeoutMs: flags.timeoutMs,
  };
  if (out.listen === undefined && out.pushgateway === undefined && out.remoteWrite === undefined) return null;
  if (out.remoteWrite !== undefined) out.remoteWriteHeaders = remoteWriteHeaders(process.env);
  return out;
}

/**
 * The engine's listener: the recorder first, then the live metrics. Records are counted one to
 * two seconds after they arrive (held over one sampling tick), labelled with the phase in effect
 * at their scheduled start on the timeline known by then: a phase event that reaches the
 * collector a moment after an attempt of it finished still counts. The run folder's
 * attribution, made at the end on the whole timeline, is the exact one.
 */
export class LiveMetrics implements EngineListener {
  readonly metrics: WsraceMetrics;
  readonly exports: MetricsExports;
  private phases: PhaseSource | null = null;
  private t0 = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Batches (records, messages) that arrived since the last tick, and in the tick before it: counted at the next tick. */
  private arrived: (() => void)[] = [];
  private held: (() => void)[] = [];
  /** The scenario's thresholds the main thread can judge while the run goes (wsrace_threshold_ok). */
  private readonly liveThresholds: Threshold[];
  private histograms: Record<Metric, Histogram> | null = null;

  constructor(
    private readonly recorder: Recorder,
    settings: RunSettings,
    outDir: string,
    exportSettings: ExportSettings,
    warn: (message: string) => void,
  ) {
    const identity = { scenario: settings.scenario.name, run: basename(outDir), shard: String(settings.shard?.index ?? 0) };
    this.metrics = new WsraceMetrics(identity, settings.connection.servedAfterMs);
    this.exports = new MetricsExports(exportSettings, this.metrics, identity, warn);
    this.liveThresholds = settings.loaded.thresholds.filter((t) => notLive(t) === null);
  }

  /** Binds /metrics and starts the pushes; a bind error (the port taken) is a RunError. */
  async start(): Promise<void> {
    try {
      await this.exports.start();
    } catch (err) {
      await this.exports.close();
      throw new RunError(`live metrics: ${(err as Error).message}`);
    }
  }

  /** T0 is chosen: records may now come; the gauges are sampled every second from the engine's. */
  begin(t0: number, phases: PhaseSource, gauges: () => OpenNow, histograms?: Record<Metric, Histogram>): void {
    this.t0 = t0;
    this.histograms = histograms ?? null;
    this.phases = phases;
    this.sample(gauges());
    this.timer = setInterval(() => {
      this.countHeld();
      this.sample(gauges());
    }, 1000);
    this.timer.unref();
  }

  records(records: AttemptRecord[]): void {
    this.recorder.records(records);
    this.arrived.push(() => this.count(records));
  }

  messages(worker: number, data: Float64Array): void {
    this.recorder.messages(worker, data);
    if (this.recorder.messageCounts !== null) this.arrived.push(() => this.countMessages(data));
  }

  interval(tick: EngineTick): void {
    this.recorder.interval(tick);
  }

  /** The run is over: lost attempts counted, the gauges' last values, the final pushes. */
  async end(lost: AttemptRecord[], open: OpenNow): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.countHeld();
    this.countHeld();
    this.count(lost);
    this.sample(open);
    await this.exports.end();
  }

  report(): ExportsReport {
    return this.exports.report();
  }

  /** Counts the batches held over a tick; those that arrived since wait for the next. */
  private countHeld(): void {
    for (const count of this.held) count();
    this.held = this.arrived;
    this.arrived = [];
  }

  private count(records: AttemptRecord[]): void {
    const timeline = this.phases?.timeline();
    if (!timeline) return;
    for (const r of records) this.metrics.attempt(r, phaseAt(timeline, r.sched - this.t0), phaseAt(timeline, r.end - this.t0));
  }

  private countMessages(data: Float64Array): void {
    const timeline = this.phases?.timeline();
    if (!timeline) return;
    for (let o = 0; o < data.length; o += MESSAGE_FIELDS) this.metrics.message(data[o + 4], data[o + 3], phaseAt(timeline, data[o + 2] - this.t0));
  }

  private sample({ sockets, clients }: OpenNow): void {
    const timeline = this.phases?.timeline();
    if (!timeline) return;
    const at = now() - this.t0;
    const connected = clients + this.recorder.clients.connectedNow();
    this.metrics.sample(sockets, connected, phaseAt(timeline, at), timeline.readyAtMs !== null && at >= timeline.readyAtMs);
    if (this.histograms && this.liveThresholds.length > 0) this.metrics.thresholds(evaluateThresholds(this.liveThresholds, liveView(this.liveThresholds, this.recorder.totals, this.histograms)));
  }
}
