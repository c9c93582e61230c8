import { parseListen } from '../util/listen.js';
import { redactUrl } from '../report/redact.js';
import type { ExportsReport } from '../report/summary.js';
import { PushChannel } from './channel.js';
import { pushgatewaySender } from './pushgateway.js';
import { remoteWriteSender } from './remote-write.js';
import { MetricsServer } from './server.js';
import type { MetricsIdentity, WsraceMetrics } from './registry.js';

/** Where the live metrics go: any of the three together. */
export interface ExportSettings {
  /** host:port for /metrics (--metrics-listen). */
  listen?: string;
  /** How long /metrics stays up after the run (--metrics-linger), ms. */
  lingerMs?: number;
  pushgateway?: string;
  remoteWrite?: string;
  /** Extra headers for remote write (auth, from the environment). */
  remoteWriteHeaders?: Record<string, string>;
  /** How often the pushing ways out push, ms (default 5 s). */
  pushEveryMs?: number;
  /** A push's bound, ms (default 2 s). */
  timeoutMs?: number;
}


export const DEFAULT_LINGER_MS = 5000;
const DEFAULT_PUSH_EVERY_MS = 5000;
const DEFAULT_TIMEOUT_MS = 2000;

/** The ways out of one run: started before the first attempt, ended after the last record. */
export class MetricsExports {
  private server: MetricsServer | null = null;
  /** The port /metrics listens on (the one picked, for port 0). */
  port: number | null = null;
  private readonly channels: { key: 'pushgateway' | 'remoteWrite'; url: string; channel: PushChannel }[] = [];

  constructor(
    private readonly settings: ExportSettings,
    private readonly metrics: WsraceMetrics,
    private readonly identity: MetricsIdentity,
    private readonly warn: (message: string) => void,
  ) {}

  /** Binds /metrics (a bind error rejects: the run has not started) and starts pushing. */
  async start(): Promise<void> {
    const s = this.settings;
    const timeout = s.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (s.listen !== undefined) {
      const at = parseListen(s.listen);
      if (!at) throw new Error(`--metrics-listen ${s.listen}: expected host:port like 127.0.0.1:9464`);
      this.server = new MetricsServer(this.metrics);
      this.port = await this.server.listen(at.host, at.port);
    }
    if (s.pushgateway !== undefined) this.add('pushgateway', s.pushgateway, pushgatewaySender(s.pushgateway, this.metrics, this.identity, timeout));
    if (s.remoteWrite !== undefined) this.add('remoteWrite', s.remoteWrite, remoteWriteSender(s.remoteWrite, this.metrics, s.remoteWriteHeaders ?? {}, timeout));
    for (const c of this.channels) c.channel.start(s.pushEveryMs ?? DEFAULT_PUSH_EVERY_MS);
  }

  /** The final pushes (bounded by their timeout), so each remote holds the run's last values. */
  async end(): Promise<void> {
    await Promise.all(this.channels.map((c) => c.channel.end()));
  }

  /** Serves /metrics for the linger (cut short when `signal` aborts: a Ctrl-C), then closes it. */
  async linger(signal?: AbortSignal): Promise<void> {
    if (!this.server) return;
    const ms = this.settings.lingerMs ?? DEFAULT_LINGER_MS;
    if (ms > 0 && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    await this.server.close();
  }

  /** Closes /metrics at once (a run that failed before it began). */
  async close(): Promise<void> {
    for (const c of this.channels) c.channel.stop();
    await this.server?.close();
  }

  report(): ExportsReport {
    const out: ExportsReport = {};
    if (this.settings.listen !== undefined) out.metricsListen = this.settings.listen;
    for (const c of this.channels) out[c.key] = { url: redactUrl(c.url), ...c.channel.counts };
    return out;
  }

  private add(key: 'pushgateway' | 'remoteWrite', url: string, send: () => Promise<void>): void {
    this.channels.push({ key, url, channel: new PushChannel(`${key === 'pushgateway' ? 'pushgateway' : 'remote write'} ${redactUrl(url)}`, send, this.warn) });
  }
}
