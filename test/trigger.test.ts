import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';
import { startTestServer, type TestServer } from './helpers/servers.js';

let server: TestServer;
const root = mkdtempSync(join(tmpdir(), 'wsrace-trigger-'));
beforeAll(async () => {
  server = await startTestServer(() => ({ kind: 'accept' }));
});
afterAll(async () => {
  await server.close();
});

describe('target.trigger: the deploy command', () => {
  it('a deploy command that fails is named in the findings (a run where nothing happened would read as fine); one that succeeds is not', async () => {
    const run = (command: string, name: string) =>
      runScenario(parseScenarioText(`name: ${name}\ntarget:\n  url: ${server.url}\n  trigger: { command: "${command}", at: 100ms }\nload:\n  stages: [{ duration: 2s, rate: 5 }]\nsession:\n  hold: 0ms\n`, `${name}.yaml`), { outDir: join(root, name), workers: 1 });
    const failed = (await run('echo no credentials >&2; exit 3', 'trigger-fails')).summary;
    expect(failed.triggerExit).toMatchObject({ code: 3, signal: null });
    expect(failed.triggerExit!.launchedAtMs).toBeGreaterThanOrEqual(100);
    expect(failed.triggerExit!.atMs).toBeGreaterThanOrEqual(failed.triggerExit!.launchedAtMs!);
    const finding = failed.findings.find((f) => f.startsWith('the trigger (target.trigger) exited with code 3 at +'));
    expect(finding).toMatch(/after its launch: the deploy may not have happened; its output is in trigger\.log$/);
    expect(readFileSync(join(root, 'trigger-fails', 'trigger.log'), 'utf8')).toBe('no credentials\n');
    const ok = (await run('true', 'trigger-ok')).summary;
    expect(ok.triggerExit).toMatchObject({ code: 0, signal: null });
    expect(ok.findings.filter((f) => f.includes('target.trigger'))).toEqual([]);
    expect(ok.triggerRunning).toBeUndefined();
  });

  it('a deploy command still running when the run ends is said so (its end is not in the run); it is left running', async () => {
    const text = `name: trigger-long\ntarget:\n  url: ${server.url}\n  trigger: { command: "sleep 2", at: 100ms }\nload:\n  stages: [{ duration: 500ms, rate: 4 }]\nsession:\n  hold: 0ms\n`;
    const s = (await runScenario(parseScenarioText(text, 'trigger-long.yaml'), { outDir: join(root, 'trigger-long'), workers: 1 })).summary;
    expect(s.triggerExit).toBeUndefined();
    expect(s.triggerRunning!.launchedAtMs).toBeGreaterThanOrEqual(100);
    const finding = s.findings.find((f) => f.startsWith('the trigger (target.trigger), launched at +'));
    expect(finding).toMatch(/, was still running when the run stopped watching it: whether and when the deploy finished is not in this run .* its output in trigger\.log$/);
  });

});
