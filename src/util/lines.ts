import { now } from './clock.js';

/**
 * Splits a stream's chunks into lines (a trailing `\r` dropped), calling back with each line and
 * the time its chunk arrived. The part after the last newline waits for the next chunk.
 */
export class LineSplitter {
  private partial = '';
  constructor(private readonly onLine: (line: string, at: number) => void) {}

  push(chunk: string): void {
    const at = now();
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.onLine(line.replace(/\r$/, ''), at);
  }

  end(): void {
    if (this.partial) this.onLine(this.partial, now());
    this.partial = '';
  }
}
