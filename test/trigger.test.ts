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
  });

});
