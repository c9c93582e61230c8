/** What an export channel did: pushes that arrived, and pushes dropped (failed, timed out, or skipped while one was in flight). */
export interface ChannelCounts {
  pushes: number;
  dropped: number;
}

/**
 * One way out that pushes (Pushgateway, remote write). A push is started and never awaited by
 * the run: while one is in flight the next tick is dropped, not queued, so a slow remote costs
 * counts, not memory or the schedule's time. The first failure prints one warning; the rest
 * are only counted.
 */
export class PushChannel {
  readonly counts: ChannelCounts = { pushes: 0, dropped: 0 };
  private inFlight: Promise<void> | null = null;
  private warned = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** Names the channel in the warning ("pushgateway http://…"). */
    private readonly name: string,
    private readonly send: () => Promise<void>,
    private readonly warn: (message: string) => void,
  ) {}

  /** Pushes every `everyMs` until end(). */
  start(everyMs: number): void {
    this.timer = setInterval(() => this.push(), everyMs);
    this.timer.unref();
  }

  /** Starts a push unless one is in flight (then this one is dropped). */
  push(): void {
    if (this.inFlight) {
      this.counts.dropped++;
      return;
    }
    this.inFlight = this.send().then(
      () => void this.counts.pushes++,
      (err: unknown) => this.failed(err),
    );
    void this.inFlight.finally(() => (this.inFlight = null));
  }

  /** Stops the ticks without a last push. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The last push, with the final values, after the one in flight (each bounded by the send's own timeout). */
  async end(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.inFlight) await this.inFlight;
    this.push();
    await this.inFlight;
  }

  private failed(err: unknown): void {
    this.counts.dropped++;
    if (this.warned) return;
    this.warned = true;
    this.warn(`${this.name}: push failed (${err instanceof Error ? err.message : String(err)}); the run goes on, further failures are only counted (summary.json exports)`);
  }
}
