import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadScenarioFile } from '../src/scenario/load.js';

/** The scenarios wsrace ships: each must load as users load it (staging-template needs its ${VAR}s: nightly-example.test.ts). */
describe('scenarios/', () => {
  const files = readdirSync('scenarios').filter((f) => f.endsWith('.yaml') && f !== 'staging-template.yaml');

  it.each(files)('%s loads', (file) => {
    expect(() => loadScenarioFile(`scenarios/${file}`, {}, {})).not.toThrow();
  });

  it('rollout.yaml is a population with a stream through a deploy the run triggers, its thresholds on disconnects and clients', () => {
    const { scenario } = loadScenarioFile('scenarios/rollout.yaml', {}, {});
    expect(scenario.load.population?.clients).toBe(2000);
    expect(scenario.session.stream).toBeDefined();
    expect(scenario.target.trigger?.at).toBeGreaterThan(0);
    expect(scenario.thresholds.map((t) => (typeof t === 'string' ? t : t.expr).split(' ')[0])).toEqual(expect.arrayContaining(['disconnects.total', 'clients.outageMs.p99', 'clients.neverBack']));
  });
});
