import { createReadStream, createWriteStream, renameSync, rmSync, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { createInterface } from 'node:readline';

/**
 * Reads an NDJSON file line by line (it can be far larger than memory should hold) and calls
 * `visit` with each parsed line. With `rewrite`, each line as `visit` left it is written back
 * (through a temporary file and a rename, so a crash midway leaves the original intact).
 * Resolves with whether the rewrite happened: when the temporary file cannot be written (out of
 * descriptors or disk at the end of a run) every line is still visited and the original stays as
 * it was — the counts are what matter; a crash here would lose the whole report.
 */
export async function eachNdjsonLine<T>(path: string, visit: (line: T) => void, options: { rewrite?: boolean } = {}): Promise<boolean> {
  const input = createReadStream(path);
  let readError: Error | null = null;
  const lines = createInterface({ input, crlfDelay: Infinity });
  // readline does not pass its input's errors on: note one, and end the lines.
  input.on('error', (e) => {
    readError = e;
    lines.close();
  });
  const tmp = `${path}.tmp`;
  let out: WriteStream | null = options.rewrite ? createWriteStream(tmp) : null;
  let writeError: Error | null = null;
  out?.on('error', (e) => (writeError ??= e));
  let batch = '';
  for await (const text of lines) {
    if (!text.trim()) continue;
    const line = JSON.parse(text) as T;
    visit(line);
    if (out && writeError) out = drop(out, tmp);
    if (!out) continue;
    batch += JSON.stringify(line) + '\n';
    if (batch.length > 1 << 16) {
      if (!out.write(batch)) await drainedOrClosed(out);
      batch = '';
    }
  }
  if (readError) throw readError;
  if (!out || writeError) {
    if (out) drop(out, tmp);
    return false;
  }
  out.end(batch);
  try {
    await finished(out);
  } catch {
    drop(out, tmp);
    return false;
  }
  renameSync(tmp, path);
  return true;
}

/**
 * Until `out` drains or closes (a write error closes it; the caller's own 'error' listener notes
 * it). Both listeners go once either fires: events.once in a race left the loser's, and its
 * 'error' listener, on the stream for every batch, past Node's leak warning.
 */
function drainedOrClosed(out: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}

/** Gives up the rewrite: its temporary file goes, as far as it can (it may never have been made). */
function drop(out: WriteStream, tmp: string): null {
  out.destroy();
  try {
    rmSync(tmp, { force: true });
  } catch {
    // Not ours to remove (a directory of that name): the original file is untouched either way.
  }
  return null;
}
