import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TruthWriter } from '../../src/sim/truth.js';
import { tmpFile } from './helpers.js';

describe('TruthWriter', () => {
  it('keeps every line in order through writes in flight, and has all of them on disk when close() resolves', async () => {
    const file = tmpFile('truth.jsonl');
    const w = new TruthWriter(file);
    // Bursts past the 64 KiB threshold with turns of the event loop between them, so writes overlap new lines.
    let n = 0;
    for (let burst = 0; burst < 20; burst++) {
      for (let k = 0; k < 2000; k++) w.write({ type: 'msg', n: n++, pad: 'x'.repeat(k % 50) });
      await new Promise((resolve) => setImmediate(resolve));
    }
    w.write({ type: 'conn', action: 'accepted', n: n++ });
    await w.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l).n)).toEqual(Array.from({ length: n }, (_, k) => k));
    expect(w.counts).toEqual({ accepted: 1 });
    w.write({ type: 'msg', n: -1 }); // after close: ignored
    expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(n + 1);
  });

  it('says so when the file cannot be written', () => {
    expect(() => new TruthWriter('/nonexistent/dir/truth.jsonl')).toThrow(/cannot write the truth file \/nonexistent\/dir\/truth\.jsonl \(ENOENT\)/);
  });
});
