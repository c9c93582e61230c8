import { closeSync, openSync, writeSync } from 'node:fs';
import { MESSAGE_FIELDS, messageLine } from './messages.js';

/**
 * messages.ndjson: one line per stream message (and per reply or gap that answered none),
 * appended batch by batch as the run goes, each batch one synchronous write (whole lines only,
 * whatever stops the process).
 */
export class MessagesFile {
  private fd: number | null;
  constructor(
    path: string,
    private readonly t0: () => number,
  ) {
    this.fd = openSync(path, 'w');
  }

  /** A worker's batch of entries (record/messages.ts). */
  write(data: Float64Array): void {
    if (this.fd === null) return;
    const t0 = this.t0();
    const n = data.length / MESSAGE_FIELDS;
    let out = '';
    for (let k = 0; k < n; k++) out += JSON.stringify(messageLine(data, k, t0)) + '\n';
    const buf = Buffer.from(out, 'utf8');
    for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off, buf.length - off);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
