import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import yargs from 'yargs';
import { DEFAULT_PHASES, loadSimConfig, parseSimCliArgs, resolveSimOptions, SimConfigError, simCommand, type SimCliArgs } from '../../src/sim/index.js';
import { tmpFile } from './helpers.js';

function file(name: string, text: string): string {
  const path = tmpFile(name);
  writeFileSync(path, text);
  return path;
}

function errorOf(fn: () => unknown): SimConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SimConfigError);
    return err as SimConfigError;
  }
  throw new Error('expected an error');
}

describe('sim config', () => {
  it('resolves library defaults: racy, the staging phases, staging timeout policy', () => {
    const o = resolveSimOptions();
    expect(o).toMatchObject({ profile: 'racy', port: 0, host: '127.0.0.1', path: '/ws', timeScale: 1, envMultiplier: 0.7, safetyMargin: 1.1, maxTotal: 5, raceWindowMs: 300, lossWindowMs: 200, warmDelayMs: 1000, warmMs: 2000, maxConnections: 10000, requireAuth: false });
    expect(o.phases).toEqual(DEFAULT_PHASES);
    expect(o.phases.every((p) => p.timeout === undefined)).toBe(true);
  });

  it('gives broken the seed staging timeouts unless timeouts are supplied', () => {
    const broken = resolveSimOptions({ profile: 'broken' });
    expect(broken.phases.find((p) => p.name === 'dependencies')?.timeout).toBe(1.5);
    const own = resolveSimOptions({ profile: 'broken', timeouts: { database: 0.1 } });
    expect(own.phases.find((p) => p.name === 'dependencies')?.timeout).toBeUndefined();
    expect(own.phases.find((p) => p.name === 'database')?.timeout).toBe(0.1);
  });

  it('loads a YAML file, and flags win over it', () => {
    const path = file(
      'sim.yaml',
      `profile: gated
timeScale: 0.1
phases:
  - { name: init, duration: 1 }
  - { name: dependencies, duration: 2.5s, timeout: 1.5 }
  - { name: websocket, duration: 500ms }
envMultiplier: 1
safetyMargin: 1.3
maxTotal: 10
raceWindow: 150ms
lossWindow: 0
warm: 3s
warmDelay: 250
maxConnections: 50
requireAuth: true
`,
    );
    const o = loadSimConfig({ config: path, profile: 'queued', maxConnections: 7 });
    expect(o.profile).toBe('queued');
    expect(o.maxConnections).toBe(7);
    expect(o.timeScale).toBe(0.1);
    expect(o.phases).toEqual([
      { name: 'init', duration: 1 },
      { name: 'dependencies', duration: 2.5, timeout: 1.5 },
      { name: 'websocket', duration: 0.5 },
    ]);
    expect(o).toMatchObject({ envMultiplier: 1, safetyMargin: 1.3, maxTotal: 10, raceWindowMs: 150, lossWindowMs: 0, warmMs: 3000, warmDelayMs: 250, requireAuth: true });
  });

  it('loads JSON too, and applies CLI defaults below the file', () => {
    const path = file('sim.json', JSON.stringify({ port: 9999, path: '/ws/chat' }));
    expect(loadSimConfig({ config: path }, { port: 8080 })).toMatchObject({ port: 9999, path: '/ws/chat' });
    expect(loadSimConfig({}, { port: 8080 }).port).toBe(8080);
    expect(loadSimConfig({ port: 0 }, { port: 8080 }).port).toBe(0);
  });

  it('names the file, the key and what was expected', () => {
    const bad = file('bad.yaml', 'phases:\n  - { name: init, duration: 1 }\n  - { name: dependencies, duration: soon }\n');
    const e = errorOf(() => loadSimConfig({ config: bad }));
    expect(e.message).toContain(bad);
    expect(e.message).toContain('phases[1].duration');
    expect(e.message).toMatch(/expected a non-negative number of seconds or a duration like 1\.5s/);
    expect(e.message).toContain('found "soon"');
    expect(e.exitCode).toBe(2);

    const typo = errorOf(() => loadSimConfig({ config: file('typo.yaml', 'profle: racy\n') }));
    expect(typo.message).toMatch(/unknown key "profle"; expected only profile, port/);

    const profile = errorOf(() => loadSimConfig({ config: file('p.json', '{"profile":"flaky"}') }));
    expect(profile.message).toMatch(/p\.json: profile: expected one of racy, gated, queued, refuse, broken, rollout, found "flaky"/);

    const dup = errorOf(() => loadSimConfig({ config: file('d.yaml', 'phases: [{name: a, duration: 1}, {name: a, duration: 2}]\n') }));
    expect(dup.message).toMatch(/phases\[1\]\.name: expected a unique phase name/);

    const notYaml = errorOf(() => loadSimConfig({ config: file('x.yaml', 'a: [1, 2\n') }));
    expect(notYaml.message).toMatch(/x\.yaml: not valid JSON or YAML/);

    const missing = errorOf(() => loadSimConfig({ config: '/nonexistent/sim.yaml' }));
    expect(missing.message).toMatch(/\/nonexistent\/sim\.yaml: cannot read it \(ENOENT\)/);
  });

  it("refuses the rollout profile's options with another profile, naming the flag: ignored, they would read as a rollout that went well", () => {
    expect(errorOf(() => loadSimConfig({ new: 'gated', drain: 'cut' } as SimCliArgs)).message).toBe('sim option --new: applies to --profile rollout only, and the profile is racy');
    expect(errorOf(() => loadSimConfig({ profile: 'gated', 'drain-over': '3s', drainOver: '3s' } as SimCliArgs)).message).toBe('sim option --drain-over: applies to --profile rollout only, and the profile is gated');
    expect(errorOf(() => loadSimConfig({ rolloutOnRequest: true, 'rollout-on-request': true } as SimCliArgs)).message).toBe('sim option --rollout-on-request: applies to --profile rollout only, and the profile is racy');
    expect(errorOf(() => loadSimConfig({ profile: 'rollout', rolloutOnRequest: true, rolloutAt: '5s' } as SimCliArgs)).message).toBe('sim option --rollout-at: revision B starts on request with --rollout-on-request; give one of the two');
    const path = file('rollout.yaml', 'profile: rollout\n');
    expect(loadSimConfig({ config: path, drain: 'cut' } as SimCliArgs)).toMatchObject({ profile: 'rollout', drain: 'cut' });
  });

  it('parses --phases and --timeout, naming the flag on bad input', () => {
    const cfg = parseSimCliArgs({ phases: 'init=2.415, dependencies=14.084,websocket=500ms', timeout: ['dependencies=1.5', 'websocket=1'] });
    expect(cfg.phases).toEqual([
      { name: 'init', duration: 2.415 },
      { name: 'dependencies', duration: 14.084 },
      { name: 'websocket', duration: 0.5 },
    ]);
    expect(cfg.timeouts).toEqual({ dependencies: 1.5, websocket: 1 });
    expect(errorOf(() => parseSimCliArgs({ phases: 'init:2' })).message).toMatch(/--phases: expected name=seconds pairs/);
    expect(errorOf(() => parseSimCliArgs({ raceWindow: 'soon' })).message).toMatch(/sim option --race-window: expected a non-negative duration/);
    expect(errorOf(() => parseSimCliArgs({ warmDelay: '-1s' })).message).toMatch(/sim option --warm-delay: expected a non-negative duration/);
    expect(errorOf(() => parseSimCliArgs({ warm: 'later' })).message).toMatch(/sim option --warm: expected a non-negative duration/);
    expect(parseSimCliArgs({ warm: '0', warmDelay: '1.5s' })).toEqual({ warm: 0, warmDelay: 1500 });
    expect(errorOf(() => parseSimCliArgs({ timeScale: -1 })).message).toMatch(/--time-scale: expected a positive number/);
    expect(errorOf(() => loadSimConfig({ timeout: 'nosuch=1' })).message).toMatch(/timeouts\.nosuch: expected the name of a phase \(init, dependencies/);
  });

  it('maps yargs flags from the command module onto the config', async () => {
    let seen: SimCliArgs | undefined;
    await yargs()
      .command({ ...simCommand, handler: (argv) => void (seen = argv as SimCliArgs) })
      .strict()
      .parseAsync(['sim', '--profile', 'broken', '--time-scale', '0.1', '--race-window', '300ms', '--warm', '4s', '--warm-delay', '500ms', '--timeout', 'dependencies=1.5', '--timeout', 'services=1', '--max-total', '5', '--port', '0']);
    const o = loadSimConfig(seen!);
    expect(o).toMatchObject({ profile: 'broken', timeScale: 0.1, raceWindowMs: 300, warmMs: 4000, warmDelayMs: 500, maxTotal: 5, port: 0 });
    expect(o.timeouts).toEqual({ dependencies: 1.5, services: 1 });
  });
});
