import { pushTimeseries } from 'prometheus-remote-write';
import type { WsraceMetrics } from './registry.js';

/** Headers for a remote-write endpoint's auth, named like k6's: a bearer token, basic auth, or any header by name. */
export const RW_ENV = { bearer: 'WSRACE_RW_BEARER_TOKEN', user: 'WSRACE_RW_USERNAME', password: 'WSRACE_RW_PASSWORD', headerPrefix: 'WSRACE_RW_HEADERS_' } as const;

/** The remote-write request's extra headers from the environment (WSRACE_RW_HEADERS_X-Scope-OrgID=tenant → X-Scope-OrgID). */
export function remoteWriteHeaders(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(RW_ENV.headerPrefix) && key.length > RW_ENV.headerPrefix.length && value !== undefined) out[key.slice(RW_ENV.headerPrefix.length)] = value;
  }
  const bearer = env[RW_ENV.bearer];
  if (bearer) out.Authorization = `Bearer ${bearer}`;
  else if (env[RW_ENV.user] !== undefined && env[RW_ENV.password] !== undefined) out.Authorization = `Basic ${Buffer.from(`${env[RW_ENV.user]}:${env[RW_ENV.password]}`).toString('base64')}`;
  return out;
}

interface Series {
  labels: { __name__: string; [key: string]: string };
  samples: { value: number; timestamp: number }[];
}

/** The registry's current values as remote-write series (histograms as their _bucket/_sum/_count series), labels sorted by name as the protocol asks. */
export async function registrySeries(metrics: WsraceMetrics, at: number): Promise<Series[]> {
  const out: Series[] = [];
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    for (const v of metric.values) {
      const labels: Record<string, string> = { __name__: (v as { metricName?: string }).metricName ?? metric.name };
      for (const [k, x] of Object.entries(v.labels)) if (x !== undefined && x !== '') labels[k] = String(x);
      const sorted = Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as Series['labels'];
      out.push({ labels: sorted, samples: [{ value: v.value, timestamp: at }] });
    }
  }
  return out;
}

/** A remote write of the registry (protobuf + snappy, through prometheus-remote-write) on Node's fetch, bounded by `timeoutMs`. */
export function remoteWriteSender(url: string, metrics: WsraceMetrics, headers: Record<string, string>, timeoutMs: number): () => Promise<void> {
  const fetchWithTimeout = (target: string, init?: { method: string; headers: Record<string, string>; body: ArrayBufferLike }) =>
    fetch(target, { method: init?.method, headers: init?.headers, body: init ? new Uint8Array(init.body as ArrayBuffer) : undefined, signal: AbortSignal.timeout(timeoutMs) });
  return async () => {
    const series = await registrySeries(metrics, Date.now());
    const result = await pushTimeseries(series, {
      url,
      fetch: fetchWithTimeout,
      headers: { 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Write-Version': '0.1.0', ...headers },
    });
    if (result.status < 200 || result.status >= 300) throw new Error(`remote write answered ${result.status} ${result.statusText}`);
  };
}
