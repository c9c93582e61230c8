import { join } from 'node:path';
import { now } from '../util/clock.js';
import type { Engine } from '../engine/pool.js';
import type { TargetProcess } from '../target/process.js';
import { TimelineCollector } from '../timeline/collector.js';
import { TimelineSources } from '../timeline/sources.js';
import { timelineOf, type PhaseTimeline } from '../timeline/attribute.js';
import type { TimelineEvent } from '../timeline/types.js';
import type { PhaseSource } from './recorder.js';
import type { RunSettings } from './settings.js';

/**
 * The startup timeline while the run goes: its sources feed the collector (timeline.ndjson),
 * the phase timeline known so far is kept for the live per-phase histograms, and readiness
 * releases the load.onReady burst, after which the engine is sealed.
 */
export class LiveTimeline implements PhaseSource {
  readonly collector: TimelineCollector;
  /** Attempts the burst at ready added (0 until it is sent, and for a shard that does not lead). */
  burstSent = 0;
  private readonly sources: TimelineSources;
  private sealed = false;
  private sealTimer: NodeJS.Timeout | null = null;
  private t0 = 0;
  // Recomputed only when an event other than a probe arrived since.
  private dirty = true;
  private cached: PhaseTimeline = { spans: [], readyAtMs: null, failedAtMs: null };

  constructor(
    private readonly settings: RunSettings,
    outDir: string,
    private readonly engine: Engine,
  ) {
    this.collector = new TimelineCollector(join(outDir, 'timeline.ndjson'), settings.readyFrom, (at) => this.sendBurst(at));
    const { scenario, leader } = settings;
    // Only the leader watches the startup; the others only load.
    this.sources = new TimelineSources(leader ? scenario : { ...scenario, timeline: undefined }, this.add);
  }

  /** An event from a source, or the target's exit. */
  readonly add = (e: TimelineEvent): void => {
    this.collector.add(e);
    if (e.kind !== 'probe') this.dirty = true;
  };

  /** The phases as known so far, on the run's T0. */
  timeline(): PhaseTimeline {
    if (this.dirty) {
      this.dirty = false;
      this.cached = timelineOf(this.collector.events, this.t0, this.settings.readyFrom).timeline;
    }
    return this.cached;
  }

  /** T0 is chosen: the events held so far are written and the sources start watching. */
  begin(t0: number, target: TargetProcess | null): void {
    this.t0 = t0;
    this.dirty = true;
    this.collector.setT0(t0);
    this.sources.start(target);
  }

  /** No readiness by the end of the stages (epoch ms): no burst, and the workers may finish. */
  sealAt(endMs: number): void {
    if (this.settings.burst) this.sealTimer = setTimeout(() => this.seal(), Math.max(0, endMs - now()));
  }

  /** No more attempts will be added: the workers may finish once theirs are done. */
  seal(): void {
    if (this.sealed) return;
    this.sealed = true;
    this.engine.seal();
  }

  cancelSealTimer(): void {
    if (this.sealTimer) clearTimeout(this.sealTimer);
  }

  async stopSources(): Promise<void> {
    await this.sources.stop();
  }

  async close(): Promise<void> {
    await this.collector.close();
  }

  /** The herd that arrives when the service flips ready: scheduled from the moment it is seen. */
  private sendBurst(at: number): void {
    const burst = this.settings.burst;
    if (!burst || this.sealed) return;
    const start = Math.max(at, now());
    // Indices after the whole (unsharded) schedule: unique across shards (only the leader bursts).
    const attempts = Array.from({ length: burst.burst }, (_, j) => ({ i: this.settings.total + j, sched: start + (burst.over * j) / burst.burst }));
    this.burstSent = attempts.length;
    this.engine.add(attempts);
    this.seal();
  }
}
