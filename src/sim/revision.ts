import type { ResolvedSimOptions } from './config.js';
import type { StartupFlags } from './startup.js';
import type { MessageAction, MessageRecord, PingHost } from './stream.js';
import { nowEpochMs, type ConnAction, type ConnRecord } from './truth.js';
import { Upgrades, type UpgradeHost } from './upgrade.js';
import { countInto } from '../util/counts.js';

/** Where a revision's truth lines and events go: the rollout simulator that owns it. */
export interface RevisionSink {
  stopping(): boolean;
  sinceT0(at: number): number;
  /** A truth line (the revision's name already in it). */
  write(line: object): void;
  emit(event: string, ...args: unknown[]): void;
}

export type RevisionName = 'A' | 'B';

/**
 * One revision of a rollout: its readiness flags (A's fixed at ready, B's played by a
 * StartupRunner), the upgrades it decides with its own startup profile, its stream replies'
 * timing, and its truth lines, each tagged `rev`. Socket ids carry the name (`A-conn_1`).
 */
export class Revision implements UpgradeHost {
  readonly upgrades: Upgrades;
  readonly pings: PingHost;
  readonly counts: Partial<Record<ConnAction, number>> = {};
  readonly messages: Partial<Record<MessageAction, number>> = {};

  constructor(
    readonly rev: RevisionName,
    /** The simulator's options with `profile` set to this revision's startup profile. */
    readonly options: ResolvedSimOptions,
    readonly flags: StartupFlags,
    readonly phaseNames: readonly string[],
    private readonly sink: RevisionSink,
    replyDelayMs: (at: number) => number,
  ) {
    this.upgrades = new Upgrades(this, `${rev}-conn_`);
    this.pings = {
      sinceT0: (at) => sink.sinceT0(at),
      phaseLabel: () => this.phaseLabel(),
      replyDelayMs,
      message: (rec) => this.messageSettled(rec),
      now: nowEpochMs,
    };
  }

  stopping(): boolean {
    return this.sink.stopping();
  }

  phaseLabel(): string {
    return this.flags.failed ? 'failed' : this.flags.phase;
  }

  sinceT0(at: number): number {
    return this.sink.sinceT0(at);
  }

  record(rec: ConnRecord): void {
    countInto(this.counts, rec.action);
    const line = { ...rec, rev: this.rev };
    this.sink.write(line);
    this.sink.emit('conn', line);
  }

  held(info: { at: number; atMs: number; remote: string }): void {
    this.sink.emit('held', { ...info, rev: this.rev });
  }

  dropped(rec: Parameters<UpgradeHost['dropped']>[0]): void {
    const line = { ...rec, rev: this.rev };
    this.sink.write(line);
    this.sink.emit('drop', line);
  }

  private messageSettled(rec: MessageRecord): void {
    countInto(this.messages, rec.action);
    const line = { ...rec, rev: this.rev };
    this.sink.write(line);
    this.sink.emit('msg', line);
  }
}

/** Revision A's flags: ready from the start, for good. */
export function readyFlags(): StartupFlags {
  return { phase: 'ready', ready: true, failed: false, bridgeReady: true, healthReady: true, inLossWindow: false };
}
