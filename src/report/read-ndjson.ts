import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * Streams an NDJSON file of a run folder line by line (it can be far larger than memory should
 * hold) and calls `visit` with each line `valid` accepts. Returns how many lines could not be
 * read or were not valid (a torn last line from a killed run, say): counted, never fatal. A file
 * that does not exist has none.
 */
export async function readNdjsonLines<T>(path: string, valid: (line: unknown) => line is T, visit: (line: T) => void): Promise<number> {
  if (!existsSync(path)) return 0;
  let bad = 0;
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const text of lines) {
    if (!text.trim()) continue;
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch {
      bad++;
      continue;
    }
    if (valid(line)) visit(line);
    else bad++;
  }
  return bad;
}
