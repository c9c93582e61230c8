import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { writeSortedLines, type KeyedLine } from '../src/util/sorted-lines.js';
import { LineCursor } from '../src/util/line-file.js';
import { OutageKind, OutageLog } from '../src/timeline/outage.js';
import { mergeRuns } from '../src/run/merge.js';
import { loadRunSide } from '../src/report/compare.js';
import { readSummary } from '../src/run/correlate.js';
import { phaseTag } from '../src/record/interval-log.js';
import { writeSyntheticRun } from '../bench/synthetic-run.mjs';

const root = mkdtempSync(join(os.tmpdir(), 'wsrace-big-runs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A deterministic generator of numbers in [0, 1). */
function random(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
}

/** What the merge did before it streamed: every line in memory, one stable sort. */
function stableSorted(sources: KeyedLine[][]): string[] {
  return sources
    .flat()
    .sort((a, b) => a.at - b.at)
    .map((l) => l.text);
}

describe('writeSortedLines: an external sort in bounded memory', () => {
  const sortedFile = (sources: KeyedLine[][], window: number) => {
    const out = join(root, `sorted-${window}.txt`);
    const n = writeSortedLines(sources.map((s) => s.values()), out, { tmpDir: root, window });
    const text = readFileSync(out, 'utf8');
    return { n, lines: text === '' ? [] : text.slice(0, -1).split('\n') };
  };

  it('gives exactly a stable sort of the sources one after another, ties in source then line order, whatever the window', () => {
    const r = random(7);
    // Shuffled keys with many ties, a roughly ordered source (out of place by a few), and one in order.
    const shuffled = Array.from({ length: 3000 }, (_, i) => ({ at: Math.floor(r() * 200) / 4, text: `a${i}` }));
    const rough = Array.from({ length: 3000 }, (_, i) => ({ at: Math.max(0, i + Math.floor(r() * 40) - 20) / 8, text: `b${i}` }));
    const ordered = Array.from({ length: 3000 }, (_, i) => ({ at: Math.floor(i / 3) / 8, text: `c${i}` }));
    const sources = [shuffled, rough, [], ordered];
    const expected = stableSorted(sources);
    for (const window of [1, 7, 64, 1000, 100_000]) expect(sortedFile(sources, window)).toEqual({ n: 9000, lines: expected });
    expect(readdirSync(root).filter((f) => f.startsWith('.sort-'))).toEqual([]); // its runs are removed
  });

  it('no lines: an empty file', () => {
    expect(sortedFile([[], []], 10)).toEqual({ n: 0, lines: [] });
  });
});

describe('LineCursor', () => {
  it('every line once across small reads, a multi-byte character split between them, the last without a newline', () => {
    const path = join(root, 'cursor.txt');
    const lines = ['ab€cd', '', 'ünïcödé'.repeat(5), 'x'.repeat(50), 'last'];
    writeFileSync(path, lines.join('\n'));
    const cursor = new LineCursor(path, 7);
    const seen: string[] = [];
    for (let l = cursor.next(); l !== null; l = cursor.next()) seen.push(l);
    expect(seen).toEqual(lines);
    expect(cursor.next()).toBeNull();
  });
});

describe('OutageLog', () => {
  /** The outage as the attributor computed it before (number arrays, an index sort). */
  function reference(scheds: number[], kinds: number[]) {
    const order = scheds.map((_, i) => i).sort((a, b) => scheds[a] - scheds[b]);
    let firstSuccessMs: number | null = null;
    let [longest, from, to, runStart, longest503, run503, lastSched] = [0, null as number | null, null as number | null, null as number | null, 0, null as number | null, 0];
    for (const i of order) {
      const t = scheds[i];
      lastSched = t;
      if (kinds[i] === 1) {
        firstSuccessMs ??= t;
        if (runStart !== null && t - runStart > longest) [longest, from, to] = [t - runStart, runStart, t];
        runStart = null;
      } else runStart ??= t;
      if (kinds[i] === 2) {
        run503 ??= t;
        longest503 = Math.max(longest503, t - run503);
      } else run503 = null;
    }
    if (runStart !== null && lastSched - runStart >= longest && order.length > 0) [longest, from, to] = [lastSched - runStart, runStart, lastSched];
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    return { firstSuccessMs, longestNoSuccessMs: r3(longest), noSuccessFromMs: from, noSuccessToMs: to, longest503Ms: r3(longest503) };
  }

  it('the same outage as before, in order or not, with ties, across its storage blocks', () => {
    const r = random(11);
    for (const [n, inOrder] of [[0, true], [5, false], [200_000, false], [200_000, true]] as const) {
      const scheds = Array.from({ length: n }, (_, i) => (inOrder ? Math.floor(i / 2) : Math.floor(r() * 5000)) / 10);
      // Runs of failures and 503s long enough to matter, successes between them.
      const kinds = scheds.map((t) => (Math.floor(t / 100) % 3 === 0 ? OutageKind.Success : Math.floor(t / 100) % 3 === 1 ? OutageKind.Http503 : r() < 0.01 ? OutageKind.Success : OutageKind.Failure));
      const log = new OutageLog();
      scheds.forEach((t, i) => log.add(t, kinds[i]));
      expect(log.result()).toEqual(reference(scheds, kinds));
    }
  });
});

describe('merge and compare of a synthetic sharded run, streamed', () => {
  it('20,000 attempts in 3 shards: the merged events are exactly the old merge\'s (shifted, tagged, stably sorted by sched); counts add up', async () => {
    const dirs = writeSyntheticRun(join(root, 'run'), { attempts: 20_000, shards: 3, rate: 5000 });
    const summaries = dirs.map((d) => readSummary(d));
    // The old merge, in memory: each shard's lines shifted to the earliest T0, phase dropped, shard added, one stable sort by sched.
    const t0 = Math.min(...summaries.map((s) => s.t0EpochMs));
    const round3 = (x: number) => Math.round(x * 1000) / 1000;
    const times = ['sched', 'start', 'tcp', 'tls', 'up', 'open', 'first', 'ok', 'reply', 'end'];
    const expected = dirs.flatMap((d, k) =>
      readFileSync(join(d, 'events.ndjson'), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => {
          const e = JSON.parse(l) as Record<string, unknown>;
          delete e.phase;
          for (const key of times) if (typeof e[key] === 'number') e[key] = round3((e[key] as number) + summaries[k].t0EpochMs - t0);
          e.shard = summaries[k].shard!.index;
          return { at: e.sched as number, text: JSON.stringify(e) };
        }),
    );
    // The shards were written roughly, not strictly, in order: the sort has work to do.
    expect(expected.some((e, i) => i > 0 && e.at < expected[i - 1].at && e.text.includes('"shard":0') && expected[i - 1].text.includes('"shard":0'))).toBe(true);
    const merged = await mergeRuns(dirs, join(root, 'merged'));
    const lines = readFileSync(join(root, 'merged', 'events.ndjson'), 'utf8').slice(0, -1).split('\n');
    const phases = new Set<string>();
    const withoutPhase = lines.map((l) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      phases.add(e.phase as string);
      delete e.phase; // the merge attributes each line again
      return JSON.stringify(e);
    });
    expect(withoutPhase).toEqual(stableSorted([expected]));
    expect(phases).toEqual(new Set(Object.keys(merged.phases)));
    expect(readdirSync(join(root, 'merged')).filter((f) => f.startsWith('.sort-'))).toEqual([]);
    // Counts: the shards' own, added.
    expect(merged.totals.attempted).toBe(20_000);
    expect(merged.schedule.scheduled).toBe(20_000);
    expect(merged.totals.httpStatus).toEqual({ '503': 200 });
    expect(merged.totals.closeCodes).toEqual({ '1000': summaries.reduce((n, s) => n + s.totals.closeCodes['1000'], 0), '1011': summaries.reduce((n, s) => n + s.totals.closeCodes['1011'], 0) });
    expect(merged.totals.closeCodes['1000'] + merged.totals.closeCodes['1011'] + 200).toBe(20_000);
    expect(merged.handshakeMs.count).toBe(summaries.reduce((n, s) => n + s.handshakeMs.count, 0));
    // compare reads the merged events streamed: one handshake per opened attempt, in its phase.
    const side = loadRunSide(join(root, 'merged'), readSummary(join(root, 'merged')));
    for (const [phase, block] of Object.entries(merged.phases)) expect(side.handshake.get(phaseTag(phase))?.totalCount).toBe(block.opened);
    expect(side.handshake.get('total')?.totalCount).toBe(merged.totals.opened);
  });
});
