import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseScenarioText } from '../src/scenario/load.js';
import { runCli } from './helpers/cli.js';

/** The nightly workflow cannot run here: check it on paper against the real CLI. */
describe('examples/nightly-staging.yml', () => {
  const workflow = parse(readFileSync('examples/nightly-staging.yml', 'utf8'));
  const steps: { run?: string }[] = workflow.jobs['cold-start'].steps;
  const wsraceRuns = steps.filter((s) => s.run?.includes('npx wsrace')).map((s) => s.run!.replace(/\\\n\s*/g, ' '));

  it('runs the staging template with flags the CLI has', async () => {
    expect(wsraceRuns).toHaveLength(1);
    const cmd = wsraceRuns[0];
    expect(cmd).toMatch(/npx wsrace run scenarios\/staging-template\.yaml/);
    const help = (await runCli(['run', '--help'])).stdout;
    for (const flag of cmd.match(/--[a-z-]+/g)!) expect(help).toContain(flag);
  });

  it('provides every variable the template needs, from secrets or vars', () => {
    const env = workflow.jobs['cold-start'].env as Record<string, string>;
    const template = readFileSync('scenarios/staging-template.yaml', 'utf8');
    const needed = [...template.matchAll(/\$\{([A-Z_]+)(:-[^}]*)?\}/g)].filter((m) => !m[2]).map((m) => m[1]);
    for (const name of needed) expect(env[name]).toMatch(/\$\{\{ (secrets|vars)\.[A-Z_]+ \}\}/);
    // With those set, the template is a valid scenario.
    const fake = Object.fromEntries(needed.map((n) => [n, n.endsWith('WS_URL') ? 'wss://staging.example/ws' : n.endsWith('HEALTH_URL') ? 'https://staging.example/health' : 'x']));
    expect(() => parseScenarioText(template, 'staging-template.yaml', {}, fake)).not.toThrow();
  });

  it('uploads the run folder and publishes junit.xml', () => {
    const text = JSON.stringify(steps);
    expect(text).toContain('reports/staging/latest/junit.xml');
    expect(text).toContain('actions/upload-artifact');
  });
});
