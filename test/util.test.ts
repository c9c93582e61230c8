import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DURATION_UNITS, formatDuration, parseDuration, splitDuration, unitToMs } from '../src/util/duration.js';
import { formatPath, valueAt } from '../src/util/key-path.js';
import { describeFound, describeIssue, unknownKeysPhrase, type IssueWording } from '../src/util/zod-issues.js';

describe('duration grammar (util/duration.ts)', () => {
  it('splits a number and its unit; anything else is not a duration', () => {
    expect(splitDuration('250ms')).toEqual({ value: 250, unit: 'ms' });
    expect(splitDuration(' 1.5 s ')).toEqual({ value: 1.5, unit: 's' });
    expect(splitDuration('.5m')).toEqual({ value: 0.5, unit: 'm' });
    expect(splitDuration('42')).toEqual({ value: 42, unit: undefined });
    for (const bad of ['', '5.', '-1s', '1h', '1.2.3', 's', '1 ms s']) expect(splitDuration(bad)).toBeNull();
    expect(DURATION_UNITS).toBe('ms|s|m');
  });

  it('converts units to milliseconds, a bare number being milliseconds', () => {
    expect([unitToMs(3, 'ms'), unitToMs(1.5, 's'), unitToMs(2, 'm'), unitToMs(7, undefined)]).toEqual([3, 1500, 120_000, 7]);
  });

  it('parses text and numbers, and says what it expected', () => {
    expect([parseDuration('250ms'), parseDuration('2s'), parseDuration('1m'), parseDuration('40'), parseDuration(12.5)]).toEqual([250, 2000, 60_000, 40, 12.5]);
    expect(() => parseDuration('soon')).toThrow('expected a duration like 500ms, 5s or 2m, found "soon"');
    expect(() => parseDuration(-1)).toThrow('expected a non-negative duration, found -1');
    expect(() => parseDuration(Number.NaN)).toThrow('expected a non-negative duration, found NaN');
  });

  it('formats for people', () => {
    expect([formatDuration(849.6), formatDuration(2414), formatDuration(185_000)]).toEqual(['850ms', '2.41s', '3m05s']);
  });
});

describe('key paths (util/key-path.ts)', () => {
  it('formats a path the way users write it', () => {
    expect(formatPath(['load', 'stages', 1, 'rate'])).toBe('load.stages[1].rate');
    expect(formatPath([0, 'a'])).toBe('[0].a');
    expect(formatPath([])).toBe('(top level)');
  });

  it('reads the value a path leads to, undefined where it leads nowhere', () => {
    const data = { a: { b: [10, { c: 'x' }] }, n: null };
    expect(valueAt(data, ['a', 'b', 1, 'c'])).toBe('x');
    expect(valueAt(data, [])).toBe(data);
    expect(valueAt(data, ['a', 'b', 5])).toBeUndefined();
    expect(valueAt(data, ['n', 'x'])).toBeUndefined();
    expect(valueAt(data, ['a', 'b', 0, 'x'])).toBeUndefined();
  });
});

describe('input errors from zod issues (util/zod-issues.ts)', () => {
  const wording: IssueWording = {
    at: (path) => `in.yaml: ${formatPath(path)}`,
    unknownKeys: ({ path, keys }) => `in.yaml: ${formatPath(path)}: ${unknownKeysPhrase(keys)}`,
  };
  const schema = z
    .object({
      rate: z.number({ error: 'expected a rate' }),
      list: z.array(z.object({ x: z.string() })).optional(),
      addr: z.string().refine((v) => v === 'ok', { message: 'expected ok, found a bad address' }).optional(),
      note: z.string().optional(),
    })
    .strict();
  const lines = (data: unknown) => schema.safeParse(data).error!.issues.map((issue) => describeIssue(issue, data, wording));

  it('says what was expected and what was found, the key missing included', () => {
    expect(lines({ rate: 'fast' })).toEqual(['in.yaml: rate: expected a rate, found "fast"']);
    expect(lines({})).toEqual(['in.yaml: rate: expected a rate, found nothing (the key is missing)']);
  });

  it("gives zod's own type messages the type, not zod's wording", () => {
    expect(lines({ rate: 1, list: [5], note: 3 })).toEqual(['in.yaml: list[0]: expected object, found 5', 'in.yaml: note: expected string, found 3']);
  });

  it('leaves a message that already says what was found as it is', () => {
    expect(lines({ rate: 1, addr: 'no' })).toEqual(['in.yaml: addr: expected ok, found a bad address']);
  });

  it("words unknown keys the caller's way", () => {
    expect(lines({ rate: 1, colour: 1 })).toEqual(['in.yaml: (top level): unknown key "colour"']);
    expect(lines({ rate: 1, a: 1, b: 2 })).toEqual(['in.yaml: (top level): unknown keys "a", "b"']);
  });

  it('shows a found value as JSON cut to 60 characters', () => {
    expect(describeFound('x'.repeat(58))).toBe(JSON.stringify('x'.repeat(58)));
    expect(describeFound('x'.repeat(59))).toBe(`"${'x'.repeat(56)}...`);
    expect(describeFound({ a: [1] })).toBe('{"a":[1]}');
    expect(describeFound(null)).toBe('null');
    expect(describeFound(undefined)).toBe('nothing (the key is missing)');
  });
});

describe('eachNdjsonLine: a file it cannot write or read is an error to handle, never a crash', () => {
  it('visits every line and leaves the original as it was when the rewrite cannot be written; rejects on a file it cannot read', async () => {
    const { eachNdjsonLine } = await import('../src/util/ndjson.js');
    const { mkdtempSync, mkdirSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'wsrace-ndjson-'));
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, '{"i":1}\n{"i":2}\n');
    mkdirSync(`${file}.tmp`); // the temporary file cannot be opened for writing (EISDIR)
    const seen: number[] = [];
    await expect(eachNdjsonLine<{ i: number; p?: string }>(file, (l) => (seen.push(l.i), (l.p = 'x')), { rewrite: true })).resolves.toBe(false);
    expect(seen).toEqual([1, 2]);
    expect(readFileSync(file, 'utf8')).toBe('{"i":1}\n{"i":2}\n');
    await expect(eachNdjsonLine(join(dir, 'missing.ndjson'), () => undefined)).rejects.toMatchObject({ code: 'ENOENT' });
    writeFileSync(join(dir, 'ok.ndjson'), '{"i":3}\n');
    await expect(eachNdjsonLine<{ i: number; p?: string }>(join(dir, 'ok.ndjson'), (l) => (l.p = 'y'), { rewrite: true })).resolves.toBe(true);
    expect(readFileSync(join(dir, 'ok.ndjson'), 'utf8')).toBe('{"i":3,"p":"y"}\n');
  });

  it('rewrites a file of many batches with no listener left behind (no leak warning) and every line as visited', async () => {
    const { eachNdjsonLine } = await import('../src/util/ndjson.js');
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const file = join(mkdtempSync(join(tmpdir(), 'wsrace-ndjson-')), 'events.ndjson');
    // ~1.3 MB: some twenty 64 KB batches, each one waiting for the stream to drain.
    const lines = 20_000;
    writeFileSync(file, Array.from({ length: lines }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(40) }) + '\n').join(''));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      await expect(eachNdjsonLine<{ i: number; p?: number }>(file, (l) => (l.p = l.i * 2), { rewrite: true })).resolves.toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
    const out = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { i: number; p: number });
    expect(out.length).toBe(lines);
    expect(out.every((l, k) => l.i === k && l.p === 2 * k)).toBe(true);
  });
});
