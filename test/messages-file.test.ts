import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MessagesFile } from '../src/record/messages-file.js';
import { MESSAGE_FIELDS, MSG_GAP, MSG_LOST, MSG_REPLIED, messageLine } from '../src/record/messages.js';

describe('messages.ndjson as the run writes it', () => {
  it('every entry of a batch is one whole line, in order, past the size of the buffer the lines are gathered in', () => {
    const t0 = 1_700_000_000_000;
    // 6,000 entries (~400 KB of lines): more than the file's 256 KB buffer, so it is written in parts.
    const n = 6000;
    const data = new Float64Array(n * MESSAGE_FIELDS);
    for (let k = 0; k < n; k++) {
      const kind = k % 7 === 0 ? MSG_LOST : k % 11 === 0 ? MSG_GAP : MSG_REPLIED;
      data.set([k, (k % 50) + 1, t0 + k * 0.123456, 1.5 + (k % 13) / 7, kind, kind === MSG_LOST ? 1006 : kind === MSG_GAP ? 3 : 0, 0], k * MESSAGE_FIELDS);
    }
    const file = join(mkdtempSync(join(tmpdir(), 'wsrace-messages-file-')), 'messages.ndjson');
    const f = new MessagesFile(file, () => t0);
    f.write(data);
    f.write(data.slice(0, 2 * MESSAGE_FIELDS));
    f.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(n + 2);
    const expected = [...Array.from({ length: n }, (_, k) => k), 0, 1].map((k) => messageLine(data, k, t0));
    expect(lines.map((l) => JSON.parse(l))).toEqual(expected);
  });
});
