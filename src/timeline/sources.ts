import type { Scenario } from '../scenario/schema.js';
import type { TargetProcess } from '../target/process.js';
import { DEFAULT_LOG_PATTERNS, LogSource, type LogOrigin, type LogPatterns } from './log-source.js';
import { HealthSource } from './health-source.js';
import type { TimelineEvent } from './types.js';
import type { ReadySource } from './collector.js';

/** The timeline sources a scenario asks for, started at T0 and stopped at the end. */
export class TimelineSources {
  private log: LogSource | null = null;
  private health: HealthSource | null = null;

  constructor(
    private readonly scenario: Scenario,
    private readonly emit: (e: TimelineEvent) => void,
  ) {}

  /** True when any source is configured (a run without one cannot pin failures to phases). */
  static configured(s: Scenario): boolean {
    return Boolean(s.timeline?.log || s.timeline?.health);
  }

  /** Which readiness signal counts: the scenario's choice, else health when polled, else log. */
  static readyFrom(s: Scenario): ReadySource | null {
    if (s.timeline?.readyFrom) return s.timeline.readyFrom;
    if (s.timeline?.health) return 'health';
    if (s.timeline?.log) return 'log';
    return null;
  }

  static logPatterns(s: Scenario): LogPatterns {
    const log = s.timeline?.log;
    return {
      phase: log?.phase ? new RegExp(log.phase) : DEFAULT_LOG_PATTERNS.phase,
      ready: log?.ready ? new RegExp(log.ready) : DEFAULT_LOG_PATTERNS.ready,
      failed: log?.failed ? new RegExp(log.failed) : DEFAULT_LOG_PATTERNS.failed,
      time: log?.time ? new RegExp(log.time) : undefined,
    };
  }

  start(target: TargetProcess | null): void {
    const t = this.scenario.timeline;
    if (t?.log) {
      const origin: LogOrigin = t.log.command ? { command: t.log.command } : t.log.file ? { file: t.log.file } : { from: 'target' };
      this.log = new LogSource(origin, TimelineSources.logPatterns(this.scenario), this.emit);
      this.log.start(target);
    }
    if (t?.health) {
      this.health = new HealthSource(
        { url: t.health.url, intervalMs: t.health.interval, timeoutMs: t.health.timeout, phaseField: t.health.phaseField, readyStatus: t.health.readyStatus },
        this.emit,
      );
      this.health.start();
    }
  }

  async stop(): Promise<void> {
    this.health?.stop();
    await this.log?.stop();
  }
}
