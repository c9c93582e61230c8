import { now } from './clock.js';

/**
 * The longest line kept from a target's log, in UTF-16 code units (bytes, for ASCII). A target
 * that never ends a line (a progress bar redrawn with `\r`, binary output) would otherwise make
 * the splitter hold all of its output; the markers the timeline looks for are short and come first.
 */
export const LOG_LINE_CAP = 64 * 1024;

/** Lines cut at a splitter's cap, and the UTF-8 bytes dropped from them (line endings not counted). */
export interface LineCut {
  lines: number;
  bytes: number;
}

export interface LineSplitterOptions {
  /** Keep at most this many code units of a line (≥ 1); the rest of it is dropped and counted. Default: no cap. */
  maxLine?: number;
}

/**
 * Splits a stream's chunks into lines (a trailing `\r` dropped), calling back with each line and
 * the time its chunk arrived. The part after the last newline waits for the next chunk. With
 * `maxLine`, a longer line is passed on cut to its first `maxLine` code units.
 */
export class LineSplitter {
  private partial = '';
  private readonly maxLine: number;
  /** UTF-8 bytes dropped from the line in progress; whether the last one dropped was a `\r`. */
  private dropping = 0;
  private droppedCR = false;
  private readonly done: LineCut = { lines: 0, bytes: 0 };

  constructor(
    private readonly onLine: (line: string, at: number) => void,
    options: LineSplitterOptions = {},
  ) {
    this.maxLine = options.maxLine ?? Infinity;
    if (!(this.maxLine >= 1)) throw new RangeError(`LineSplitter: maxLine must be at least 1, got ${options.maxLine}`);
  }

  /** Code units held for the line in progress: never more than `maxLine`. */
  get buffered(): number {
    return this.partial.length;
  }

  /** Lines cut so far and the bytes dropped from them, the line in progress included. */
  get cut(): LineCut {
    const pending = this.cutBytes(false);
    return { lines: this.done.lines + (this.dropping > 0 ? 1 : 0), bytes: this.done.bytes + pending };
  }

  push(chunk: string): void {
    const at = now();
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', from);
      this.keep(chunk, from, nl === -1 ? chunk.length : nl);
      if (nl === -1) return;
      this.finishLine(at, true);
      from = nl + 1;
    }
  }

  /** The stream ended: its last line, if it has one, is passed on as it is. */
  end(): void {
    if (this.partial || this.dropping > 0) this.finishLine(now(), false);
  }

  /** Appends chunk[from, to) to the line in progress, up to the cap; counts what is beyond it. */
  private keep(chunk: string, from: number, to: number): void {
    if (from === to) return;
    // Once a line is cut, the rest of it is dropped (a later short piece must not fill the gap).
    let room = this.dropping > 0 ? 0 : this.maxLine - this.partial.length;
    if (to - from <= room) {
      this.partial += chunk.slice(from, to);
      return;
    }
    // Never keep half of a surrogate pair: the dropped part starts with the whole character.
    if (room > 0 && isHighSurrogate(chunk.charCodeAt(from + room - 1))) room--;
    this.partial += chunk.slice(from, from + room);
    this.dropping += Buffer.byteLength(chunk.slice(from + room, to), 'utf8');
    this.droppedCR = chunk.charCodeAt(to - 1) === 0x0d;
  }

  /** `ended`: a newline ended the line, so a `\r` before it is the line's ending, not its text. */
  private finishLine(at: number, ended: boolean): void {
    const bytes = this.cutBytes(ended);
    if (this.dropping > 0 && bytes > 0) {
      this.done.lines++;
      this.done.bytes += bytes;
    }
    // A cut line's `\r` ending (if any) was dropped with the rest: its kept text stays whole.
    const line = ended && this.dropping === 0 ? this.partial.replace(/\r$/, '') : this.partial;
    this.partial = '';
    this.dropping = 0;
    this.droppedCR = false;
    this.onLine(line, at);
  }

  /** Bytes dropped from the line in progress; a `\r` dropped last counts once the line ends without it. */
  private cutBytes(ended: boolean): number {
    return ended && this.droppedCR ? this.dropping - 1 : this.dropping;
  }
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;

/** The cuts of several splitters (a process's stdout and stderr) together. */
export function sumCuts(cuts: readonly LineCut[]): LineCut {
  return { lines: cuts.reduce((n, c) => n + c.lines, 0), bytes: cuts.reduce((n, c) => n + c.bytes, 0) };
}
