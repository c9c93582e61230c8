import { createReadStream, createWriteStream, renameSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * Reads an NDJSON file line by line (it can be far larger than memory should hold) and calls
 * `visit` with each parsed line. With `rewrite`, each line as `visit` left it is written back
 * (through a temporary file and a rename, so a crash midway leaves the original intact).
 */
export async function eachNdjsonLine<T>(path: string, visit: (line: T) => void, options: { rewrite?: boolean } = {}): Promise<void> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  const tmp = `${path}.tmp`;
  const out = options.rewrite ? createWriteStream(tmp) : null;
  let batch = '';
  for await (const text of lines) {
    if (!text.trim()) continue;
    const line = JSON.parse(text) as T;
    visit(line);
    if (out) {
      batch += JSON.stringify(line) + '\n';
      if (batch.length > 1 << 16) {
        if (!out.write(batch)) await once(out, 'drain');
        batch = '';
      }
    }
  }
  if (out) {
    out.write(batch);
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    renameSync(tmp, path);
  }
}
