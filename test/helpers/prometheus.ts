import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './coldstart.js';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PUSHGATEWAY = '/usr/bin/prometheus-pushgateway';

/** Fails with what to install when Debian's binaries are missing. */
export function requireBinaries(): void {
  for (const bin of [PROMETHEUS, PUSHGATEWAY]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: apt-get install --no-install-recommends prometheus prometheus-pushgateway (.ci/run does)`);
  }
}

export interface Service {
  url: string;
  stop(): Promise<void>;
}

/** Polls `check` until it returns a value (not undefined), at most `ms`; the last failure is the error. */
export async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown = null;
  for (let i = 0; Date.now() < deadline && i < 10_000; i++) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not within ${ms} ms${last ? ` (last: ${String(last)})` : ''}`);
}

function started(child: ChildProcess, url: string, readyPath: string, dir: string | null): Promise<Service> {
  let exited = false;
  const output: string[] = [];
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  child.once('exit', () => (exited = true));
  const stop = async () => {
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  return until(`${url}${readyPath} ready`, 15_000, async () => {
    if (exited) throw new Error(`exited: ${output.join('').slice(-500)}`);
    return (await fetch(url + readyPath)).ok ? { url, stop } : undefined;
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
}

/** Debian's Prometheus on a free loopback port, scraping `targets` every second, with the remote-write receiver on. */
export async function startPrometheus(targets: string[]): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'wsrace-prom-'));
  const port = await freePort();
  const config = ['global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: scrape', '    scrape_interval: 1s', '    static_configs:', `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`, ''].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const child = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const service = await started(child, `http://127.0.0.1:${port}`, '/-/ready', dir);
  // Ready is not scraping: the discovery manager hands static targets over up to 5 s later, and
  // a run shorter than that would see no scrape at all.
  await until('prometheus scraping its targets', 15_000, async () => {
    const body = (await (await fetch(`${service.url}/api/v1/targets`)).json()) as { data: { activeTargets: { lastScrape: string }[] } };
    const active = body.data.activeTargets;
    return active.length === targets.length && active.every((t) => Date.parse(t.lastScrape) > 0) ? true : undefined;
  }).catch(async (err: unknown) => {
    await service.stop();
    throw err;
  });
  return service;
}

/** Debian's Pushgateway on a free loopback port (no persistence). */
export async function startPushgateway(): Promise<Service> {
  const port = await freePort();
  const child = spawn(PUSHGATEWAY, [`--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  return started(child, `http://127.0.0.1:${port}`, '/-/ready', null);
}

/** An instant query's vector as label set → value. */
export async function query(prometheus: string, promql: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** Sums by one label, as a record (label value → sum). */
export async function sumBy(prometheus: string, label: string, selector: string): Promise<Record<string, number>> {
  const rows = await query(prometheus, `sum by (${label}) (last_over_time(${selector}[5m]))`);
  return Object.fromEntries(rows.map((r) => [r.metric[label] ?? '', r.value]));
}

/** Sums a text exposition's samples of `name` by one label, over the lines that contain `having`. */
export function sumExposition(text: string, name: string, label: string, having = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) || !line.includes(having)) continue;
    const key = new RegExp(`[{,]${label}="([^"]*)"`).exec(line)?.[1] ?? '';
    out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}
