import { createWriteStream, type WriteStream } from 'node:fs';
import type { TimelineEvent } from './types.js';

export type ReadySource = 'health' | 'log';

/**
 * Collects timeline events from every source during a run, appends them to timeline.ndjson as
 * they come (ms since T0), and calls back once when the authoritative source says ready.
 */
export class TimelineCollector {
  readonly events: TimelineEvent[] = [];
  private readonly file: WriteStream | null;
  private t0 = 0;
  private readyCalled = false;
  private readonly buffered: TimelineEvent[] = [];

  constructor(
    path: string | null,
    private readonly readyFrom: ReadySource | null,
    private readonly onReady?: (at: number) => void,
  ) {
    this.file = path ? createWriteStream(path) : null;
  }

  /** T0 is known only once the target is launched; events before it are held. */
  setT0(t0: number): void {
    this.t0 = t0;
    for (const e of this.buffered.splice(0)) this.write(e);
  }

  add = (e: TimelineEvent): void => {
    this.events.push(e);
    if (this.t0 === 0) this.buffered.push(e);
    else this.write(e);
    if (e.kind === 'ready' && !this.readyCalled && (this.readyFrom === null || e.source === this.readyFrom)) {
      this.readyCalled = true;
      this.onReady?.(e.at);
    }
  };

  private write(e: TimelineEvent): void {
    if (!this.file) return;
    const { at, ...rest } = e;
    this.file.write(JSON.stringify({ ms: Math.round((at - this.t0) * 1000) / 1000, ...rest }) + '\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.file ? this.file.end(resolve) : resolve()));
  }
}
