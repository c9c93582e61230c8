import { Pushgateway } from 'prom-client';
import type { MetricsIdentity, WsraceMetrics } from './registry.js';

/**
 * A push of the whole registry to a Pushgateway, replacing the group job=wsrace/run/shard (PUT),
 * so the group holds the latest values and the last push the final ones.
 */
export function pushgatewaySender(url: string, metrics: WsraceMetrics, identity: MetricsIdentity, timeoutMs: number): () => Promise<void> {
  const gateway = new Pushgateway(url, { timeout: timeoutMs }, metrics.registry);
  const groupings = { run: identity.run, shard: identity.shard };
  return async () => {
    await gateway.push({ jobName: 'wsrace', groupings });
  };
}
