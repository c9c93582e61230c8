import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenarioText } from '../src/scenario/load.js';
import { InputError } from '../src/scenario/errors.js';
import { runCli } from './helpers/cli.js';
import { ARRIVAL_RECONNECT_ON, POPULATION_RECONNECT_ON, resolveSettings } from '../src/run/settings.js';
import type { RunOptions } from '../src/run/options.js';

const base = `name: t
target:
  url: ws://127.0.0.1:9/ws
load:
  stages:
    - { duration: 1s, rate: 10 }
`;

function errorOf(text: string, env: NodeJS.ProcessEnv = {}, overrides = {}): string {
  try {
    parseScenarioText(text, 'bad.yaml', overrides, env);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected the scenario to be rejected');
}

describe('scenario loading', () => {
  it('applies defaults and parses durations', () => {
    const { scenario } = parseScenarioText(base + 'session:\n  hold: 2s\n  expect: { match: pong, within: 250ms }\n', 'ok.yaml', {}, {});
    expect(scenario.target.handshakeTimeout).toBe(5000);
    expect(scenario.target.perMessageDeflate).toBe(false);
    expect(scenario.session.hold).toBe(2000);
    expect(scenario.session.expect).toEqual({ match: 'pong', within: 250 });
    expect(scenario.load.stages![0]).toEqual({ duration: 1000, rate: 10 });
  });

  it('names the file, line and key of an unknown key', () => {
    const msg = errorOf(base.replace('  stages:', '  stges:'));
    expect(msg).toMatch(/^bad\.yaml:5: load\.stges: unknown key "stges"/);
  });

  it('names the key and what was expected for a bad value', () => {
    expect(errorOf(base.replace('rate: 10', 'rate: fast'))).toMatch(/^bad\.yaml:6: load\.stages\[0\]\.rate: expected a rate in connections per second \(number\), found "fast"/);
    expect(errorOf(base.replace('duration: 1s', 'duration: soon'))).toMatch(/load\.stages\[0\]\.duration: expected a positive duration like 500ms, 5s or 2m, found "soon"/);
    expect(errorOf(base.replace('ws://127.0.0.1:9/ws', 'http://x/'))).toMatch(/bad\.yaml:3: target\.url: expected a ws:\/\/ or wss:\/\/ URL with a host and no #fragment, found "http:\/\/x\/"/);
    expect(errorOf(base.replace('rate: 10', 'rate: 0'))).toMatch(/load\.stages\[0\]\.rate: expected rate > 0/);
    expect(errorOf(base + 'thresholds: ["p99 < 4"]')).toMatch(/bad\.yaml:7: thresholds\[0\]: "p99" is not a summary.json value/);
  });

  it('reads ${VAR} from the environment, with defaults, and names an unset one', () => {
    const text = base.replace('url: ws://127.0.0.1:9/ws', 'url: ws://127.0.0.1:9/ws\n  headers: { Authorization: "Bearer ${TOKEN}", X-Env: "${ENV_NAME:-staging}" }');
    const { scenario } = parseScenarioText(text, 'ok.yaml', {}, { TOKEN: 'abc' });
    expect(scenario.target.headers).toEqual({ Authorization: 'Bearer abc', 'X-Env': 'staging' });
    expect(errorOf(text, {})).toMatch(/target\.headers\.Authorization: environment variable TOKEN is not set/);
    // ${VAR} gives text: a rate, a burst or a socket cap read from it is the number it holds.
    const numbers = `name: t\ntarget:\n  url: ws://127.0.0.1:9/ws\nload:\n  stages:\n    - { duration: 1s, rate: "\${RATE:-5}" }\n  maxConnections: \${MAXC}\nworkers: \${WORKERS:-2}\n`;
    const loaded = parseScenarioText(numbers, 'ok.yaml', {}, { MAXC: '300' }).scenario;
    expect([loaded.load.stages![0].rate, loaded.load.maxConnections, loaded.workers]).toEqual([5, 300, 2]);
    expect(errorOf(numbers, { MAXC: 'many' })).toBe('bad.yaml:7: load.maxConnections: expected a whole number of sockets, found "many"');
  });

  it('a number with an exponent from ${VAR} (5e0, 1e3, 2.5E-1) reads as the number it holds, wherever a number or duration is expected', () => {
    const text =
      'name: t\ntarget:\n  url: ws://127.0.0.1:9/ws\n  handshakeTimeout: ${HT}\n  maxPayload: ${MP}\nload:\n  stages:\n    - { duration: "${D}", rate: "${RATE}", rampTo: "${RAMP}" }\n  maxConnections: ${MAXC}\n' +
      'session:\n  hold: ${HOLD}\n  reconnect: { max: "${RMAX}", backoff: { factor: "${F}", jitter: "${J}" } }\nworkers: ${W}\nthresholds:\n  - handshakeMs.p99 < ${P99}\n  - totals.opened >= ${OPENED}s\n';
    const env = { HT: '2.5e3', MP: '1E6', D: '2e0s', RATE: '5e0', RAMP: '2.5E-1', MAXC: '1e3', HOLD: '1e3', RMAX: '1e1', F: '1.5e0', J: '2.5E-1', W: '2e0', P99: '5e2', OPENED: '1e-3' };
    const { scenario, thresholds } = parseScenarioText(text, 'ok.yaml', {}, env);
    expect([scenario.target.handshakeTimeout, scenario.target.maxPayload, scenario.load.stages![0], scenario.load.maxConnections, scenario.session.hold, scenario.workers]).toEqual([2500, 1_000_000, { duration: 2000, rate: 5, rampTo: 0.25 }, 1000, 1000, 2]);
    expect(scenario.session.reconnect).toMatchObject({ max: 10, backoff: { factor: 1.5, jitter: 0.25 } });
    expect(thresholds.map((t) => t.value)).toEqual([500, 1]);
    // Not a number: the key's own message, with what the variable gave.
    expect(errorOf(text, { ...env, RATE: '5e' })).toBe('bad.yaml:8: load.stages[0].rate: expected a rate in connections per second (number), found "5e"');
    expect(errorOf(text, { ...env, MAXC: 'e3' })).toBe('bad.yaml:9: load.maxConnections: expected a whole number of sockets, found "e3"');
    expect(errorOf(text, { ...env, MAXC: '1.5e0' })).toBe('bad.yaml:9: load.maxConnections: expected a whole number of sockets, found "1.5e0"');
    expect(errorOf(text, { ...env, HOLD: '1e3e' })).toBe('bad.yaml:11: session.hold: expected a duration like 500ms, 5s or 2m, found "1e3e"');
    expect(errorOf(text, { ...env, P99: '5e' })).toBe('bad.yaml:15: thresholds[0]: expected "<path> <op> <number>" with op one of < <= > >= == != (e.g. "handshakeMs.p99 < 500"), found "handshakeMs.p99 < 5e"');
  });

  it('applies --set and --target before validating', () => {
    const { scenario } = parseScenarioText(base, 'ok.yaml', { set: ['load.stages[0].rate=15', 'session.hold=3s'], target: 'wss://example.test/ws' }, {});
    expect(scenario.load.stages![0].rate).toBe(15);
    expect(scenario.session.hold).toBe(3000);
    expect(scenario.target.url).toBe('wss://example.test/ws');
    expect(errorOf(base, {}, { set: ['load.stages[0].rate=-1'] })).toMatch(/load\.stages\[0\]\.rate: expected a rate ≥ 0/);
  });

  it('an error in a value from the command line names the flag, not a line of the file', () => {
    expect(errorOf(base, {}, { set: ['load.stagez[0].rate=5'] })).toBe('bad.yaml (--set load.stagez[0].rate=5): load.stagez: unknown key "stagez" under load (it has stages); check the spelling in the scenario reference');
    expect(errorOf(base, {}, { set: ['load.stages[0].rate=fast'] })).toBe('bad.yaml (--set load.stages[0].rate=fast): load.stages[0].rate: expected a rate in connections per second (number), found "fast"');
    expect(errorOf(base, {}, { target: 'http://x/' })).toBe('bad.yaml (--target http://x/): target.url: expected a ws:// or wss:// URL with a host and no #fragment, found "http://x/"');
    expect(errorOf(base, {}, { localAddresses: ['10.0.0.300'] })).toBe('bad.yaml (--local-address 10.0.0.300): target.localAddresses: expected an IP address, a range like 127.0.0.2-127.0.0.40 or a CIDR block like 127.0.1.0/24, found "10.0.0.300"');
    expect(errorOf(base.replace('rate: 10', 'rate: 100'), {}, { target: 'ws://staging.example.com/ws' })).toMatch(/^bad\.yaml \(--target ws:\/\/staging\.example\.com\/ws\): target\.url: staging\.example\.com is not loopback/);
    expect(errorOf(base, {}, { set: ['load.stages[1].rate=3'] })).toBe('bad.yaml (--set load.stages[1].rate=3): load.stages[1].duration: expected a positive duration like 500ms, 5s or 2m, found nothing (the key is missing)');
    expect(errorOf(base, {}, { set: ['load.onReady={ burst: 5 }'] })).toBe('bad.yaml (--set load.onReady={ burst: 5 }): load.onReady: expected a readiness signal to burst on: configure timeline.health or timeline.log');
    expect(errorOf(base, {}, { set: ['thresholds[0]=totals.errors.refusd == 0'] })).toMatch(/^bad\.yaml \(--set thresholds\[0\]=totals\.errors\.refusd == 0\): thresholds\[0\]: "totals\.errors\.refusd"/);
    expect(errorOf(base, {}, { set: ['load.stages[3].rate=5'] })).toBe('--set load.stages[3].rate=5: load.stages has 1 item: [3] is past its end (the next one is [1])');
    for (const path of ['load.stages[0]rate', 'load..stages', '.load', 'load.']) expect(errorOf(base, {}, { set: [`${path}=5`] })).toBe(`--set ${path}: expected a key path like load.stages[0].rate`);
    expect(parseScenarioText(base, 'ok.yaml', { set: ['load.stages[1]={ duration: 1s, rate: 5 }'] }, {}).scenario.load.stages).toHaveLength(2);
    expect(parseScenarioText(base, 'ok.yaml', { set: ['load.stages.0.rate=7'] }, {}).scenario.load.stages![0].rate).toBe(7);
    expect(errorOf(base, {}, { set: ['load.stages.5.rate=5'] })).toBe('--set load.stages.5.rate=5: load.stages has 1 item: [5] is past its end (the next one is [1])');
    expect(errorOf(base, {}, { set: ['load.stages.rate=50'] })).toBe('--set load.stages.rate=50: load.stages is a list: expected an index like [0], found "rate"');
  });
});

describe('session.reconnect.on', () => {
  const withOn = (on: string, load = '') => base + load + `session:\n  reconnect: { on: ${on} }\n`;
  it('close codes, HTTP statuses (503 or http_503) and the outcome words, as the keys they match', () => {
    expect(parseScenarioText(withOn('[1011, "1012", 503, http_429, reset]'), 'ok.yaml', {}, {}).scenario.session.reconnect!.on).toEqual(['1011', '1012', 'http_503', 'http_429', 'reset']);
  });

  it('anything else is refused with what was expected and what was found', () => {
    const expected = 'expected a close code an attempt can end with (1000–1014 but 1004, or 3000–4999: 1006, 1011 …), an HTTP status (100–599 but 101: 503, or http_503) or one of refused, reset, handshake_timeout, expect_timeout, error';
    expect(errorOf(withOn('[http_5xx]'))).toBe(`bad.yaml:8: session.reconnect.on[0]: ${expected}, found "http_5xx"`);
    expect(errorOf(withOn('[503, 99999]'))).toBe(`bad.yaml:8: session.reconnect.on[1]: ${expected}, found 99999`);
    // ws ends an attempt whose server sends 1004 or 1015–2999 as error; 101 is the upgrade itself.
    for (const never of ['1004', '1015', '2000', '101', 'http_101', '5000']) expect(errorOf(withOn(`[${never}]`))).toBe(`bad.yaml:8: session.reconnect.on[0]: ${expected}, found ${/^\d+$/.test(never) ? never : `"${never}"`}`);
    expect(parseScenarioText(withOn('[1000, 1005, 1014, 3000, 4999, 100, 599]'), 'ok.yaml', {}, {}).scenario.session.reconnect!.on).toEqual(['1000', '1005', '1014', '3000', '4999', 'http_100', 'http_599']);
    expect(errorOf(withOn('refused'))).toMatch(/session\.reconnect\.on: expected a list of outcomes to retry on, like \[1006, 1011, 503, refused\], found "refused"/);
  });

  it('left out, it is the defaults of what reconnects: a population also retries 1001 and reset, arrivals do not', () => {
    const settings = (text: string) => resolveSettings(parseScenarioText(text, 'ok.yaml', {}, {}), { workers: 1 } as RunOptions);
    const population = 'name: p\ntarget:\n  url: ws://127.0.0.1:9/ws\nload:\n  population: { clients: 5, over: 1s }\n  duration: 5s\nsession:\n  reconnect: { max: 20 }\n';
    expect(settings(population).population!.reconnect).toMatchObject({ on: POPULATION_RECONNECT_ON, max: 20 });
    expect(POPULATION_RECONNECT_ON).toEqual(['1001', '1006', '1011', '1012', '1013', 'http_502', 'http_503', 'http_504', 'refused', 'reset']);
    expect(settings(base + 'session:\n  reconnect: { max: 20 }\n').connection.reconnect).toMatchObject({ on: ARRIVAL_RECONNECT_ON, max: 20 });
    expect(ARRIVAL_RECONNECT_ON).toEqual(['1006', '1011', '1012', '1013', 'http_503', 'refused']);
    expect(settings(population.replace('{ max: 20 }', '{ on: [1012] }')).population!.reconnect!.on).toEqual(['1012']);
  });
});

describe('the rollout keys given a value of the wrong shape say what shape they take', () => {
  it('population, stream, reply, reconnect, backoff, trigger', () => {
    const pop = 'name: t\ntarget:\n  url: ws://127.0.0.1:9/ws\nload:\n  population: 100\n  duration: 5s\n';
    expect(errorOf(pop)).toBe('bad.yaml:5: load.population: expected a population like { clients: 5000, over: 10s }, found 100');
    expect(errorOf(base + 'session:\n  stream: 5\n')).toBe('bad.yaml:8: session.stream: expected a stream like { every: 250ms, send, reply, within: 2s }, found 5');
    expect(errorOf(base + 'session:\n  stream: { reply: 5 }\n')).toBe(`bad.yaml:8: session.stream.reply: expected a reply like { match: '"type":"pong"', seq: seq }, found 5`);
    expect(errorOf(base + 'session:\n  reconnect: 5\n')).toBe('bad.yaml:8: session.reconnect: expected reconnect settings like { on: [1006, 1011], max: 10, backoff: { initial: 250ms } }, found 5');
    expect(errorOf(base + 'session:\n  reconnect: { backoff: 5 }\n')).toBe('bad.yaml:8: session.reconnect.backoff: expected a backoff like { initial: 250ms, factor: 2, max: 5s, jitter: 10% }, found 5');
    expect(errorOf(base.replace('9/ws\n', '9/ws\n  trigger: "deploy.sh"\n'))).toBe('bad.yaml:4: target.trigger: expected a trigger like { command: "gcloud run deploy …", at: 30s }, found "deploy.sh"');
  });
});

describe('keys that would make a run pass without doing what they say', () => {
  it('a deploy (target.trigger.at) due after the run can have ended: it would never launch', () => {
    // The stage lasts 1 s, its sockets 1 s more (session.hold), and the drain at most 10 s (drainTimeout).
    const trigger = (at: string, extra = '') => base.replace('9/ws\n', `9/ws\n  trigger: { command: "true", at: ${at} }\n`) + extra;
    expect(errorOf(trigger('60s'))).toBe('bad.yaml:4: target.trigger.at: expected a time before the run can end (12s after T0: load.startAfter + the stages and session.hold, or load.duration, + drainTimeout), found 60s');
    expect(errorOf(trigger('12s'))).toMatch(/target\.trigger\.at: expected a time before the run can end \(12s after T0/);
    expect(parseScenarioText(trigger('11999ms'), 'ok.yaml', {}, {}).scenario.target.trigger!.at).toBe(11_999);
    expect(parseScenarioText(trigger('12s', 'session:\n  hold: 5m\n'), 'ok.yaml', {}, {}).scenario.target.trigger!.at).toBe(12_000);
    expect(errorOf(trigger('3s', 'drainTimeout: 0s\nsession:\n  hold: 0s\n'))).toMatch(/expected a time before the run can end \(1s after T0/);
  });

  it('a stream whose message has no ${seq} while its replies are matched by the seq they echo: every message would be lost', () => {
    expect(errorOf(base + 'session:\n  stream: { send: hello }\n')).toBe('bad.yaml:8: session.stream.send: expected ${seq} in the message: replies are matched by the number the server echoes at reply.seq (seq); leave reply.seq out to match them in order');
    expect(parseScenarioText(base + 'session:\n  stream: { send: hello, reply: { match: hi } }\n', 'ok.yaml', {}, {}).scenario.session.stream!.reply.seq).toBeUndefined();
  });

  it("a clients threshold without clients (no load.population, no session.reconnect): it could only fail, at the end", () => {
    expect(errorOf(base + 'thresholds: ["clients.neverBack == 0"]\n')).toBe('bad.yaml:7: thresholds[0]: "clients.neverBack" reads the clients\' numbers, and the scenario has no load.population or session.reconnect');
    expect(parseScenarioText(base + 'session:\n  reconnect: {}\nthresholds: ["clients.neverBack == 0"]\n', 'ok.yaml', {}, {}).thresholds).toHaveLength(1);
  });
});

describe('target URLs', () => {
  it('a host after //, no #fragment; the scheme in any case', () => {
    const url = (u: string) => base.replace('ws://127.0.0.1:9/ws', u);
    const expected = 'target.url: expected a ws:// or wss:// URL with a host and no #fragment';
    expect(errorOf(url('ws:///ws'))).toBe(`bad.yaml:3: ${expected}, found "ws:///ws"`); // the URL parser reads host "ws"
    expect(errorOf(url('ws://127.0.0.1:9/ws#frag'))).toBe(`bad.yaml:3: ${expected}, found "ws://127.0.0.1:9/ws#frag"`);
    expect(errorOf(url('ws:127.0.0.1/ws'))).toBe(`bad.yaml:3: ${expected}, found "ws:127.0.0.1/ws"`);
    for (const ok of ['WSS://127.0.0.1/ws', 'ws://[::1]:9/ws?x=1', 'ws://localhost']) expect(parseScenarioText(url(ok), 'ok.yaml', {}, {}).scenario.target.url).toBe(ok);
  });
});

describe('thresholds name what the scenario has', () => {
  it('two steps never share a name', () => {
    const two = base + 'session:\n  steps:\n    - expect: { name: a, match: x, within: 1s }\n    - expect: { match: y, within: 1s }\n    - ping: { name: a, within: 1s }\n';
    expect(errorOf(two)).toBe('bad.yaml:11: session.steps[2]: expected a step name of its own, found "a" a second time (an expect or ping step is named expect-N / ping-N by its position when it has no name)');
    expect(errorOf(two.replace('name: a, match: x', 'name: expect-2, match: x').replace('ping: { name: a,', 'ping: {'))).toMatch(/^bad\.yaml:10: session\.steps\[1\]: expected a step name of its own, found "expect-2" a second time/);
  });

  it('a step threshold names a step of session.steps', () => {
    const withSteps = base + 'session:\n  steps:\n    - expect: { name: ready, match: ok, within: 1s }\n    - ping: { within: 1s }\n';
    expect(() => parseScenarioText(withSteps + 'thresholds: ["steps.ready.passed > 0", "steps.ping-2.timeouts == 0"]\n', 'ok.yaml')).not.toThrow();
    expect(errorOf(withSteps + 'thresholds: ["steps.redy.passed > 0"]\n')).toBe('bad.yaml:11: thresholds[0]: "steps.redy" names no step (expected one of session.steps\' expect and ping steps: ready, ping-2)');
    expect(errorOf(base + 'thresholds: ["steps.ready.passed > 0"]\n')).toBe('bad.yaml:7: thresholds[0]: "steps.ready" names no step (expected a session.steps expect or ping step, and the scenario has none)');
  });
});

describe('thresholds that stop a failing run (abortOnFail)', () => {
  const list = (...entries: string[]) => base + 'thresholds:\n' + entries.map((e) => `  - ${e}\n`).join('');

  it('a map entry carries abortOnFail and delay; the plain string is unchanged', () => {
    const { thresholds } = parseScenarioText(list('totals.opened > 0', '{ expr: "totals.httpStatus.503 < 20", abortOnFail: true, delay: 1500ms }', '{ expr: "handshakeMs.p99 < 0.5s", abortOnFail: true }', '{ expr: "totals.closeCodes.1011 == 0" }'), 'ok.yaml', {}, {});
    expect(thresholds).toEqual([
      { expr: 'totals.opened > 0', path: ['totals', 'opened'], op: '>', value: 0 },
      { expr: 'totals.httpStatus.503 < 20', path: ['totals', 'httpStatus', '503'], op: '<', value: 20, abortOnFail: true, delayMs: 1500 },
      { expr: 'handshakeMs.p99 < 0.5s', path: ['handshakeMs', 'p99'], op: '<', value: 500, abortOnFail: true },
      { expr: 'totals.closeCodes.1011 == 0', path: ['totals', 'closeCodes', '1011'], op: '==', value: 0 },
    ]);
  });

  it('errors name the file, the line, the key and what was expected', () => {
    expect(errorOf(list('totals.opened > 0', 'totals.opened > 1', '{ expr: "totals.closeCodes.1011 < 10", delay: 10s }'))).toBe('bad.yaml:10: thresholds[2].delay: expected delay only with abortOnFail: true (it is how long the run goes before the threshold may stop it), found "10s"');
    expect(errorOf(list('{ expr: "totals.closeCodes.1011 < 10", abortOnFail: true, delay: soon }'))).toBe('bad.yaml:8: thresholds[0].delay: expected a duration like 500ms, 5s or 2m, found "soon"');
    expect(errorOf(list('{ expr: "totals.closeCodes.1011 < 10", abortOnFail: yes }'))).toBe('bad.yaml:8: thresholds[0].abortOnFail: expected true or false, found "yes"');
    expect(errorOf(list('{ abortOnFail: true }'))).toBe('bad.yaml:8: thresholds[0].expr: expected a threshold expression like "totals.closeCodes.1011 < 10", found nothing (the key is missing)');
    expect(errorOf(list('{ expr: "totals.opened > 0", abortonfail: true }'))).toMatch(/^bad\.yaml:8: thresholds\[0\]\.abortonfail: unknown key "abortonfail" under thresholds\[0\]/);
    expect(errorOf(list('42'))).toBe('bad.yaml:8: thresholds[0]: expected a threshold like "handshakeMs.p99 < 500" or a map { expr, abortOnFail, delay }, found 42');
    expect(errorOf(list('{ expr: "totals.httpStatus.99 < 20", abortOnFail: true }'))).toBe('bad.yaml:8: thresholds[0].expr: "totals.httpStatus.99": "99" is not an HTTP status (e.g. 503)');
    expect(errorOf(list('"totals.httpStatus.99 < 20"'))).toBe('bad.yaml:8: thresholds[0]: "totals.httpStatus.99": "99" is not an HTTP status (e.g. 503)');
  });

  it('refuses, at load, a path that is not known while the run goes', () => {
    for (const path of ['phases.websocket.closeCodes.1011', 'afterReady.httpStatus.503', 'ready.atMs', 'outage.longest503Ms', 'clients.neverConnected', 'durationMs']) {
      expect(errorOf(list(`{ expr: "${path} < 20", abortOnFail: true }`))).toBe(`bad.yaml:8: thresholds[0].expr: abortOnFail: "${path}" is not known while the run goes (expected totals.<count>, e.g. totals.closeCodes.1011 or totals.httpStatus.503, or a latency like handshakeMs.p99; phases, readiness, clients and messages are attributed only after the run)`);
      // (a clients number needs clients to read at the end)
      expect(() => parseScenarioText(list(`{ expr: "${path} < 20" }`) + (path.startsWith('clients.') ? 'session:\n  reconnect: {}\n' : ''), 'ok.yaml', {}, {})).not.toThrow();
    }
  });
});

describe('CLI input errors exit 2 and run nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsrace-cli-'));
  it('invalid scenario', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, base.replace('rate: 10', 'rate: "lots"'));
    const r = await runCli(['run', file, '--quiet', '--out', join(dir, 'out')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('load.stages[0].rate');
    expect(r.stderr).toContain(file);
    const v = await runCli(['validate', file]);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain('load.stages[0].rate: expected a rate');
  });

  it('validate reads the files a scenario names: a CA file without a certificate', async () => {
    const file = join(dir, 'tls.yaml');
    writeFileSync(join(dir, 'not-a-cert.pem'), 'not a certificate\n');
    writeFileSync(file, base.replace(/url: .*/, 'url: wss://127.0.0.1:1/ws\n  tls: { ca: not-a-cert.pem }'));
    const v = await runCli(['validate', file]);
    expect(v.code).toBe(2);
    expect(v.stderr.trim()).toBe(`${file}: target.tls.ca: not-a-cert.pem holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)`);
    // A byte-order mark before the certificate is not an error (OpenSSL skips to the BEGIN line).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    writeFileSync(join(dir, 'not-a-cert.pem'), '\uFEFF' + readFileSync(join(dir, 'cert.pem'), 'utf8'));
    expect((await runCli(['validate', file])).code).toBe(0);
  });

  it('unknown flag', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, base);
    const r = await runCli(['run', file, '--bogus-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown argument: bogus-flag$/im);
    expect(r.stderr).toMatch(/^Run "wsrace run --help" for usage\.$/m); // the command's own help
    expect((await runCli(['--bogus-flag'])).stderr).toMatch(/^Run "wsrace --help" for usage\.$/m);
    const v = await runCli(['validate', file]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/ok — "t": 10 attempts over 1\.00s/);
    // A population says what it is, alone or with arrivals.
    writeFileSync(join(dir, 'pop.yaml'), 'name: p\ntarget:\n  url: ws://127.0.0.1:9/ws\nload:\n  population: { clients: 50, over: 2s }\n  duration: 30s\n');
    expect((await runCli(['validate', join(dir, 'pop.yaml')])).stdout).toBe(`${join(dir, 'pop.yaml')}: ok — "p": 50 connected clients (over 2.00s, for 30.00s) against ws://127.0.0.1:9/ws, 0 threshold(s)\n`);
  });

  it.each([
    ['--spin', '1.5', '--spin 1.5: expected a fraction from 0 to 1'],
    ['--nice', '-21', '--nice -21: expected a whole number from -20 to 19'],
    ['--nice', '2.5', '--nice 2.5: expected a whole number from -20 to 19'],
    ['--nice', 'low', '--nice low: expected a whole number from -20 to 19'],
    ['--workers', '0', '--workers 0: expected a positive whole number'],
    ['--processes', '0', '--processes 0: expected a positive whole number'],
    ['--failure-tolerance', 'abc', '--failure-tolerance abc: expected a number ≥ 0'], // NaN would let no regression through
    ['--workers', 'two', '--workers two: expected a positive whole number'],
  ])('run %s=%s: exit 2 with the flag, no stack trace, no run folder', async (flag, value, expected) => {
    const file = join(dir, `ok-${flag.slice(2)}-${value}.yaml`);
    writeFileSync(file, base);
    const out = join(dir, `flags-${flag.slice(2)}-${value}`);
    const r = await runCli(['run', file, '--quiet', `${flag}=${value}`, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(expected);
    expect(existsSync(out)).toBe(false);
  });

  it('compare and validate: a tolerance below 0 or empty, --workers two: exit 2 with the flag', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, base);
    const c = await runCli(['compare', dir, dir, '--latency-tolerance=-5']);
    expect([c.code, c.stderr.trim()]).toEqual([2, '--latency-tolerance -5: expected a number ≥ 0']);
    const empty = await runCli(['compare', dir, dir, '--latency-tolerance=']);
    expect([empty.code, empty.stderr.trim()]).toEqual([2, '--latency-tolerance : expected a number ≥ 0']);
    const v = await runCli(['validate', file, '--workers', 'two']);
    expect([v.code, v.stderr.trim()]).toEqual([2, '--workers two: expected a positive whole number']);
  });
});

describe('safety: a pasted production URL never gets a stress test by accident', () => {
  const remote = (rate: number, extra = '') => `name: t\ntarget:\n  url: wss://api.example.com/ws\n${extra}load:\n  stages:\n    - { duration: 10s, rate: ${rate} }\n`;
  it('non-loopback above a modest rate must be named', () => {
    expect(errorOf(remote(100))).toMatch(/target\.url: api\.example\.com is not loopback and the scenario peaks at 100 connections\/s.*allowHosts: \[api\.example\.com\] or pass --yes-really-target api\.example\.com/);
    expect(() => parseScenarioText(remote(100, '  allowHosts: [api.example.com]\n'), 'ok.yaml', {}, {})).not.toThrow();
    expect(() => parseScenarioText(remote(100), 'ok.yaml', { allowHosts: ['api.example.com'] }, {})).not.toThrow();
    expect(() => parseScenarioText(remote(20), 'ok.yaml', {}, {})).not.toThrow();
    expect(() => parseScenarioText(remote(5000).replace('wss://api.example.com', 'ws://127.0.0.9:8080'), 'ok.yaml', {}, {})).not.toThrow();
    expect(() => parseScenarioText(remote(5000).replace('wss://api.example.com', 'ws://localhost:8080'), 'ok.yaml', {}, {})).not.toThrow();
  });
});

describe('more bad input', () => {
  it('a ramp with no duration, a JSON scenario with a bad value (with its line)', () => {
    expect(errorOf(base.replace('{ duration: 1s, rate: 10 }', '{ rate: 10, rampTo: 50 }'))).toMatch(/load\.stages\[0\]\.duration: expected a positive duration like 500ms, 5s or 2m, found nothing \(the key is missing\)/);
    const json = JSON.stringify({ name: 'j', target: { url: 'ws://127.0.0.1:9/ws' }, load: { stages: [{ duration: '1s', rate: -3 }] } }, null, 2);
    expect(() => parseScenarioText(json, 'bad.json', {}, {})).toThrow(/^bad\.json:\d+: load\.stages\[0\]\.rate: expected a rate ≥ 0/);
    expect(() => parseScenarioText('{ "name": "j", ', 'bad.json', {}, {})).toThrow(/^bad\.json:1:\d+: not valid JSON/);
    // YAML reads trailing commas; a .json file is held to JSON.
    expect(() => parseScenarioText(json.replace(/\n\}$/, ',\n}'), 'bad.json', {}, {})).toThrow(/^bad\.json:14:1: not valid JSON: Expected double-quoted property name$/);
    expect(errorOf(base + 'timeline:\n  health: { url: "ws://x/health" }\n')).toMatch(/timeline\.health\.url: expected an http:\/\/ or https:\/\/ URL/);
    expect(errorOf(base + 'timeline:\n  log: { command: "x", file: "y" }\n')).toMatch(/timeline\.log: expected only one of from, command or file/);
  });
});

describe('keys that do not go together', () => {
  it('log from the target without target.start, readyFrom without its source, onReady without a timeline, a burst over the safety limit', () => {
    expect(errorOf(base + 'timeline:\n  log: { from: target }\n')).toMatch(/timeline\.log: expected command: or file: — reading the target's output \(from: target\) needs target\.start/);
    expect(errorOf(base + 'timeline:\n  log: { command: "tail -F x" }\n  readyFrom: health\n')).toMatch(/timeline\.readyFrom: expected timeline\.health to be configured/);
    expect(errorOf(base.replace('    - { duration: 1s, rate: 10 }', '    - { duration: 1s, rate: 10 }\n  onReady: { burst: 10 }'))).toMatch(/load\.onReady: expected a readiness signal/);
    const remote = `name: t\ntarget:\n  url: wss://api.example.com/ws\nload:\n  stages: [{ duration: 1s, rate: 5 }]\n  onReady: { burst: 5000, over: 1s }\ntimeline:\n  health: { url: "https://api.example.com/health" }\n`;
    expect(errorOf(remote)).toMatch(/peaks at 5000 connections\/s/);
  });
});
