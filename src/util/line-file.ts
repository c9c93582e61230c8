import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/**
 * A file's lines one at a time, read synchronously in chunks of `bufferBytes`: a run's NDJSON
 * files can be far larger than memory should hold, so only one chunk's lines are ever held. The
 * last line needs no newline; `\r` is kept (NDJSON lines are JSON, which ignores it).
 */
export class LineCursor {
  private readonly fd: number;
  private readonly buf: Buffer;
  private readonly decoder = new StringDecoder('utf8');
  private lines: string[] = [];
  private at = 0;
  private rest = '';
  private ended = false;

  constructor(path: string, bufferBytes = 1 << 20) {
    this.fd = openSync(path, 'r');
    this.buf = Buffer.allocUnsafe(bufferBytes);
  }

  /** The next line, or null once the file is done (the file is then closed). */
  next(): string | null {
    while (this.at === this.lines.length) {
      if (this.ended) return null;
      this.fill();
    }
    return this.lines[this.at++];
  }

  /** Closes the file early; next() then returns null. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.lines = [];
    this.at = 0;
    closeSync(this.fd);
  }

  private fill(): void {
    const n = readSync(this.fd, this.buf, 0, this.buf.length, null);
    const text = n > 0 ? this.rest + this.decoder.write(this.buf.subarray(0, n)) : this.rest + this.decoder.end();
    const lines = text.split('\n');
    this.rest = n > 0 ? (lines.pop() as string) : '';
    if (n === 0 && lines[lines.length - 1] === '') lines.pop();
    this.lines = lines;
    this.at = 0;
    if (n === 0) {
      this.ended = true;
      closeSync(this.fd);
    }
  }
}

/** Calls `visit` with each line of a file, read in 1 MiB chunks (see LineCursor). */
export function eachLineSync(path: string, visit: (line: string) => void): void {
  const cursor = new LineCursor(path);
  try {
    for (let line = cursor.next(); line !== null; line = cursor.next()) visit(line);
  } finally {
    cursor.close();
  }
}
