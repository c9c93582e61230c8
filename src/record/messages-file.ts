import { closeSync, openSync, writeSync } from 'node:fs';
import { MESSAGE_FIELDS, messageLine } from './messages.js';

/**
 * messages.ndjson: one line per stream message (and per reply or gap that answered none),
 * appended batch by batch as the run goes, each batch one synchronous write (whole lines only,
 * whatever stops the process).
 */
export class MessagesFile {
  private fd: number | null;
  /** A batch's lines, written together (a full batch of 1,024 takes ~100 KB). */
  private buf = Buffer.allocUnsafe(256 * 1024);
  constructor(
    path: string,
    private readonly t0: () => number,
  ) {
    this.fd = openSync(path, 'w');
  }

  /**
   * A worker's batch of entries (record/messages.ts). Each line goes into one buffer kept for the
   * file's life and dies at once: a batch's lines joined into one string all lived until its
   * end, so every scavenge in the middle kept them, and V8 grew the main thread's young
   * generation to its largest (+17 MiB at 16,000 messages a second; docs/performance.md).
   */
  write(data: Float64Array): void {
    if (this.fd === null) return;
    const t0 = this.t0();
    const n = data.length / MESSAGE_FIELDS;
    let used = 0;
    for (let k = 0; k < n; k++) {
      const line = JSON.stringify(messageLine(data, k, t0)) + '\n';
      // 3 bytes a UTF-16 unit at most: a line is never cut.
      if (used + line.length * 3 > this.buf.length) {
        this.flush(used);
        used = 0;
        if (line.length * 3 > this.buf.length) this.buf = Buffer.allocUnsafe(line.length * 3);
      }
      used += this.buf.write(line, used, 'utf8');
    }
    this.flush(used);
  }

  /** The buffer's first `bytes`, written whole. */
  private flush(bytes: number): void {
    for (let off = 0; off < bytes; ) off += writeSync(this.fd!, this.buf, off, bytes - off);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
