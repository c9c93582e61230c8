import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LineCursor } from './line-file.js';

/** A line of text and the number it is sorted by. */
export interface KeyedLine {
  at: number;
  text: string;
}

export interface SortOptions {
  /** Where the sorted runs are kept while they are merged (a folder is made in it and removed). */
  tmpDir: string;
  /** Lines held in memory at once. Default 50,000. */
  window?: number;
}

/** A line waiting in the window: its place in the input (for ties) and the run it will go to. */
interface Pending extends KeyedLine {
  seq: number;
  run: number;
}

/**
 * Writes the lines of every source to `outPath` (one per line) in order of `at`, the same order as
 * a stable sort of all sources one after another (ties keep source order, then line order), while
 * holding at most `window` lines: an external merge sort. Runs are made by replacement selection
 * (a heap of `window` lines; a line that comes too late for the run being written waits for the
 * next), so input that is only roughly in order, lines out of place by less than the window, makes
 * one run per source; the runs are then merged through a heap, ties to the earlier run. Returns
 * the lines written.
 */
export function writeSortedLines(sources: Iterable<KeyedLine>[], outPath: string, options: SortOptions): number {
  const window = options.window ?? 50_000;
  const dir = mkdtempSync(join(options.tmpDir, '.sort-'));
  try {
    const runs = new RunWriter(dir);
    const heap = new Heap<Pending>((a, b) => a.run < b.run || (a.run === b.run && (a.at < b.at || (a.at === b.at && a.seq < b.seq))));
    let seq = 0;
    for (const source of sources) {
      for (const line of source) {
        if (heap.size >= window) runs.write(heap.pop() as Pending);
        // A line before what its run has written already goes to the next run.
        const run = runs.current >= 0 && line.at < runs.last ? runs.current + 1 : Math.max(runs.current, 0);
        heap.push({ at: line.at, text: line.text, seq: seq++, run });
      }
    }
    while (heap.size > 0) runs.write(heap.pop() as Pending);
    return mergeRuns(runs.close(), outPath);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The run files being written: each line goes to the run it was given, a new run starting a new file. */
class RunWriter {
  current = -1;
  last = -Infinity;
  private readonly paths: string[] = [];
  private out: BatchWriter | null = null;
  private fd = -1;
  constructor(private readonly dir: string) {}

  write(line: Pending): void {
    if (line.run !== this.current) {
      this.end();
      this.current = line.run;
      const path = join(this.dir, `run-${this.paths.length}`);
      this.paths.push(path);
      this.fd = openSync(path, 'w');
      this.out = new BatchWriter(this.fd);
    }
    (this.out as BatchWriter).write(`${line.at}\t${line.text}\n`);
    this.last = line.at;
  }

  /** The run files, in order. */
  close(): string[] {
    this.end();
    return this.paths;
  }

  private end(): void {
    if (!this.out) return;
    this.out.flush();
    closeSync(this.fd);
    this.out = null;
  }
}

/** k-way merge of sorted run files (`at` TAB text) into `outPath`, text only; ties go to the earlier run. */
function mergeRuns(paths: string[], outPath: string): number {
  const fd = openSync(outPath, 'w');
  const out = new BatchWriter(fd);
  const heap = new Heap<RunHead>((a, b) => a.at < b.at || (a.at === b.at && a.order < b.order));
  let count = 0;
  try {
    // Small reads: a very large input may make many runs, and each holds one buffer.
    paths.forEach((path, order) => {
      const head = new RunHead(new LineCursor(path, 1 << 16), order);
      if (head.advance()) heap.push(head);
    });
    for (let head = heap.peek(); head; head = heap.peek()) {
      out.write(head.text + '\n');
      count++;
      if (head.advance()) heap.siftDown();
      else heap.pop();
    }
    out.flush();
  } finally {
    closeSync(fd);
  }
  return count;
}

/** The current line of a run file: its key and text. */
class RunHead {
  at = 0;
  text = '';
  constructor(
    private readonly cursor: LineCursor,
    readonly order: number,
  ) {}

  /** Moves to the run's next line; false when the run is done. */
  advance(): boolean {
    const line = this.cursor.next();
    if (line === null) return false;
    const tab = line.indexOf('\t');
    this.at = Number(line.slice(0, tab));
    this.text = line.slice(tab + 1);
    return true;
  }
}

/** A binary min-heap by `before`. */
class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    let i = items.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (this.items.length > 0) {
      this.items[0] = last as T;
      this.siftDown();
    }
    return top;
  }

  /** Restores the order after the top item's key grew. */
  siftDown(): void {
    const items = this.items;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && this.before(items[l], items[m])) m = l;
      if (r < items.length && this.before(items[r], items[m])) m = r;
      if (m === i) return;
      [items[i], items[m]] = [items[m], items[i]];
      i = m;
    }
  }
}

/** Writes text to a file descriptor in batches of about 1 MiB. */
export class BatchWriter {
  private batch = '';
  constructor(private readonly fd: number) {}

  write(text: string): void {
    this.batch += text;
    if (this.batch.length >= 1 << 20) this.flush();
  }

  flush(): void {
    if (this.batch) writeSync(this.fd, this.batch);
    this.batch = '';
  }
}
