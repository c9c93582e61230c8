import { closeSync, openSync, writeSync } from 'node:fs';
import type { TimelineEvent } from './types.js';
import { timelineLine } from './supplied.js';

export type ReadySource = 'health' | 'log';

/**
 * Collects timeline events from every source during a run, appends them to timeline.ndjson as
 * they come (ms since T0), and calls back once when the authoritative source says ready.
 */
export class TimelineCollector {
  readonly events: TimelineEvent[] = [];
  private file: number | null;
  private t0 = 0;
  private readyCalled = false;
  private readonly buffered: TimelineEvent[] = [];
  private closed = false;

  constructor(
    path: string | null,
    private readonly readyFrom: ReadySource | null,
    private readonly onReady?: (at: number) => void,
  ) {
    this.file = path ? openSync(path, 'w') : null;
  }

  /** T0 is known only once the target is launched; events before it are held. */
  setT0(t0: number): void {
    this.t0 = t0;
    for (const e of this.buffered.splice(0)) this.write(e);
  }

  add = (e: TimelineEvent): void => {
    // After close (a deploy command's exit once the run is over): the summary is made from the
    // same events as timeline.ndjson, so `correlate` and `merge` read back what the run said.
    if (this.closed) return;
    this.events.push(e);
    if (this.t0 === 0) this.buffered.push(e);
    else this.write(e);
    if (e.kind === 'ready' && !this.readyCalled && (this.readyFrom === null || e.source === this.readyFrom)) {
      this.readyCalled = true;
      this.onReady?.(e.at);
    }
  };

  private write(e: TimelineEvent): void {
    if (this.file === null) return;
    // One synchronous write per event: an abrupt exit leaves whole lines only.
    writeSync(this.file, timelineLine(e, this.t0) + '\n');
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.file !== null) closeSync(this.file);
    this.file = null;
  }
}
