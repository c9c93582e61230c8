import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WsraceMetrics } from '../src/metrics/registry.js';

const PROMTOOL = '/usr/bin/promtool';
const dashboard = JSON.parse(readFileSync(new URL('../deploy/grafana/wsrace.json', import.meta.url), 'utf8')) as {
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { type: string; query: string | { query: string } }[] };
};

/** Every PromQL expression in the dashboard: panel queries, and the series selectors of label_values() variables. */
function expressions(): { where: string; expr: string }[] {
  const out = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: p.title, expr: t.expr })));
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\((.+),\s*\w+\)$/.exec(q);
    if (!m) throw new Error(`variable query ${q}: expected label_values(<selector>, <label>)`);
    out.push({ where: `variable ${q}`, expr: m[1] });
  }
  return out;
}

/** Grafana's variables as Prometheus would see them once Grafana has filled them in. */
const filled = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replace(/\$(scenario|run)\b/g, '.*');

/** The series names the registry exposes (a histogram as its _bucket, _sum and _count series). */
async function exposedNames(): Promise<Set<string>> {
  const metrics = new WsraceMetrics({ scenario: 's', run: 'r', shard: '0' });
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
    else names.add(m.name);
  }
  return names;
}

describe('deploy/grafana/wsrace.json', () => {
  it('every query is valid PromQL (promtool parses it as a recording rule)', () => {
    if (!existsSync(PROMTOOL)) throw new Error(`${PROMTOOL} is missing: apt-get install --no-install-recommends prometheus (.ci/run does)`);
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-dash-'));
    try {
      const rules = expressions().map((e, i) => `      - record: wsrace:dashboard_${i}\n        expr: ${JSON.stringify(filled(e.expr))}`);
      writeFileSync(join(dir, 'rules.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const out = execFileSync(PROMTOOL, ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' });
      expect(out).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names only metrics the registry exposes, and shows every one of them', async () => {
    const exposed = await exposedNames();
    const used = new Set<string>();
    for (const { where, expr } of expressions()) {
      for (const [name] of expr.matchAll(/\bwsrace_[a-z_]+/g)) {
        expect(exposed.has(name), `${where}: ${name} is not a series wsrace exposes`).toBe(true);
        used.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    const families = new WsraceMetrics({ scenario: 's', run: 'r', shard: '0' }).names();
    expect(families.filter((f) => !used.has(f))).toEqual([]);
  });
});
