import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOG_LINE_CAP, LineSplitter, sumCuts } from '../src/util/lines.js';
import { DEFAULT_LOG_PATTERNS, LogSource } from '../src/timeline/log-source.js';
import type { TimelineEvent } from '../src/timeline/types.js';
import { summarizeTimeline } from '../src/report/assemble.js';
import { parseScenarioText } from '../src/scenario/load.js';
import { runScenario } from '../src/run/run.js';
import { startTestServer, type TestServer } from './helpers/servers.js';

/** Lines a splitter passed on, and the most it ever held after a push. */
function splitter(maxLine?: number) {
  const lines: string[] = [];
  const s = new LineSplitter((line) => lines.push(line), maxLine === undefined ? {} : { maxLine });
  let held = 0;
  const push = (...chunks: string[]) => {
    for (const c of chunks) {
      s.push(c);
      held = Math.max(held, s.buffered);
    }
  };
  return { s, lines, push, held: () => held };
}

/** A shell command that prints `n` × 'x' with no newline, then ends that line and prints a phase. */
const endlessLine = (n: number) => `head -c ${n} /dev/zero | tr '\\0' x; printf '\\nPHASE TRANSITION  ->  database\\n'`;
const PHASE_LINE = 'PHASE TRANSITION  ->  database';

describe('LineSplitter without a cap: today\'s lines, whatever the chunking', () => {
  it('splits across chunks, drops a \\r before the newline, keeps the last partial line for end()', () => {
    const t = splitter();
    t.push('ab', 'c\r\nde', 'f\n\ng', 'h\r');
    expect(t.lines).toEqual(['abc', 'def', '']);
    expect(t.s.buffered).toBe(3);
    t.s.end();
    expect(t.lines).toEqual(['abc', 'def', '', 'gh\r']);
    expect(t.s.cut).toEqual({ lines: 0, bytes: 0 });
    t.s.end();
    expect(t.lines).toHaveLength(4);
  });

  it('holds a long line whole (the shards\' output opts out of the cap)', () => {
    const t = splitter();
    t.push('x'.repeat(200_000), 'y\n');
    expect(t.lines).toEqual(['x'.repeat(200_000) + 'y']);
    expect(t.held()).toBe(200_000);
  });

  it('a cap below 1 is refused', () => {
    expect(() => new LineSplitter(() => undefined, { maxLine: 0 })).toThrow(RangeError);
  });
});

describe('LineSplitter with a cap: a line beyond it is passed on cut, and counted', () => {
  it('a line of exactly the cap is whole; one more character is one line and one byte cut', () => {
    const t = splitter(8);
    t.push('abcdefgh\n', 'abcdefghi\n');
    expect(t.lines).toEqual(['abcdefgh', 'abcdefgh']);
    expect(t.s.cut).toEqual({ lines: 1, bytes: 1 });
  });

  it('a \\r ending is not text: dropping it alone cuts nothing; dropped with text it is not counted', () => {
    const t = splitter(8);
    t.push('abcdefgh\r\n', 'abcdefgh', '\r', '\n', 'abcdefghij\r\n');
    expect(t.lines).toEqual(['abcdefgh', 'abcdefgh', 'abcdefgh']);
    expect(t.s.cut).toEqual({ lines: 1, bytes: 2 });
  });

  it('over many chunks: the buffer never passes the cap, a later short piece does not fill the gap', () => {
    const t = splitter(8);
    t.push('abcd', 'efghij', 'k', 'l\nxy', '\n');
    expect(t.held()).toBe(8);
    expect(t.lines).toEqual(['abcdefgh', 'xy']);
    expect(t.s.cut).toEqual({ lines: 1, bytes: 4 });
  });

  it('bytes are UTF-8 bytes; a surrogate pair is never split', () => {
    const t = splitter(3);
    t.push('ab😀cd\n', 'aé€€\n');
    expect(t.lines).toEqual(['ab', 'aé€']);
    expect(t.s.cut).toEqual({ lines: 2, bytes: 4 + 2 + 3 });
  });

  it('the line in progress counts as cut at once; end() passes it on cut', () => {
    const t = splitter(4);
    t.push('1234567');
    expect(t.s.cut).toEqual({ lines: 1, bytes: 3 });
    t.push('89');
    expect(t.s.cut).toEqual({ lines: 1, bytes: 5 });
    t.s.end();
    expect(t.lines).toEqual(['1234']);
    expect(t.s.cut).toEqual({ lines: 1, bytes: 5 });
    expect(t.s.buffered).toBe(0);
  });

  it('sumCuts adds the streams of one process', () => {
    expect(sumCuts([{ lines: 1, bytes: 5 }, { lines: 2, bytes: 7 }])).toEqual({ lines: 3, bytes: 12 });
    expect(sumCuts([])).toEqual({ lines: 0, bytes: 0 });
  });
});

describe('a child that prints 5,000,000 bytes without a newline', () => {
  const N = 5_000_000;

  it('the splitter holds at most LOG_LINE_CAP, passes the line on cut, sees the phase after it and counts the cut exactly', async () => {
    const t = splitter(LOG_LINE_CAP);
    const child = spawn('/bin/sh', ['-c', endlessLine(N)], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.setEncoding('utf8').on('data', (d: string) => t.push(d));
    await new Promise((resolve) => child.on('close', resolve));
    expect(t.held()).toBe(LOG_LINE_CAP);
    expect(t.lines).toEqual(['x'.repeat(LOG_LINE_CAP), PHASE_LINE]);
    expect(t.s.cut).toEqual({ lines: 1, bytes: N - LOG_LINE_CAP });
  });

  it('timeline.log.command: the phase is seen, and stop() reports the cut as one event', async () => {
    const events: TimelineEvent[] = [];
    let phaseSeen: () => void = () => undefined;
    const seen = new Promise<void>((resolve) => (phaseSeen = resolve));
    const source = new LogSource({ command: endlessLine(N) }, DEFAULT_LOG_PATTERNS, (e) => {
      events.push(e);
      if (e.kind === 'phase') phaseSeen();
    });
    source.start(null);
    await seen;
    expect(source.cut).toEqual({ lines: 1, bytes: N - LOG_LINE_CAP });
    await source.stop();
    expect(events.map((e) => e.kind)).toEqual(['phase', 'cut']);
    expect(events[0]).toMatchObject({ kind: 'phase', source: 'log', phase: 'database' });
    expect(events[1]).toMatchObject({ kind: 'cut', source: 'log', lines: 1, bytes: N - LOG_LINE_CAP });
    // summary.json's timeline part: logCut only when something was cut.
    const t0 = events[0].at;
    expect(summarizeTimeline(events, t0, 'log').summary.logCut).toEqual({ lines: 1, bytes: N - LOG_LINE_CAP });
    expect('logCut' in summarizeTimeline(events.slice(0, 1), t0, 'log').summary).toBe(false);
  });
});

describe('timeline.log.from: target, through a whole run', () => {
  let server: TestServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it('summary.json says what was cut; target.log keeps the line whole; the phase after it is seen', async () => {
    server = await startTestServer(() => ({ kind: 'accept' }));
    const n = 300_000;
    // YAML single quotes: the shell's backslashes stay as typed.
    const command = `${endlessLine(n)}; sleep 5`.replace(/'/g, "''");
    const text = `name: cut\ntarget:\n  url: ${server.url}\n  start:\n    command: '${command}'\nload:\n  stages: [{ duration: 1s, rate: 20 }]\nsession:\n  hold: 10ms\ntimeline:\n  log: { from: target }\n`;
    const outDir = join(mkdtempSync(join(tmpdir(), 'wsrace-cut-')), 'run');
    const { summary } = await runScenario(parseScenarioText(text, 'cut.yaml'), { outDir, workers: 1 });
    // The run lasts a second after the target's launch; the target prints all of it at once.
    expect(summary.timeline.map((s) => s.phase)).toEqual(['database']);
    expect(summary.logCut).toEqual({ lines: 1, bytes: n - LOG_LINE_CAP });
    expect(JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')).logCut).toEqual({ lines: 1, bytes: n - LOG_LINE_CAP });
    const timeline = readFileSync(join(outDir, 'timeline.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(timeline.filter((e) => e.kind === 'cut')).toEqual([{ ms: expect.any(Number), kind: 'cut', source: 'log', lines: 1, bytes: n - LOG_LINE_CAP }]);
    expect(statSync(join(outDir, 'target.log')).size).toBe(n + `\n${PHASE_LINE}\n`.length);
  });
});
