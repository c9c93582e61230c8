import { spawn, type ChildProcess } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { killOnExit, type TargetProcess } from '../target/process.js';
import { stopGroup } from '../target/signal.js';
import { now } from '../util/clock.js';
import { LOG_LINE_CAP, LineSplitter, sumCuts, type LineCut } from '../util/lines.js';
import type { TimelineEvent } from './types.js';

export interface LogPatterns {
  /** Group 1 is the phase name. */
  phase: RegExp;
  ready: RegExp;
  failed: RegExp;
  /** Optional: a named group `ts` holding the line's own timestamp (ISO, or epoch s/ms). */
  time?: RegExp;
}

/**
 * Defaults match the backend's own lines (`PHASE TRANSITION  ->  database`), uvicorn's
 * "Application startup complete." and the simulator's `STARTUP COMPLETE` / `STARTUP FAILED`.
 */
export const DEFAULT_LOG_PATTERNS: LogPatterns = {
  phase: /PHASE TRANSITION\s+->\s+([A-Za-z0-9_.-]+)/,
  ready: /STARTUP COMPLETE|Application startup complete/,
  failed: /STARTUP FAILED|Startup failed|Application startup failed/,
};

/** Reads a line's own timestamp: ISO 8601, or epoch seconds / milliseconds. */
export function parseTimestamp(ts: string): number | null {
  const trimmed = ts.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    const n = Number(trimmed);
    return n < 1e11 ? n * 1000 : n;
  }
  const parsed = Date.parse(trimmed);
  return Number.isNaN(parsed) ? null : parsed;
}

/** What one log line says about startup (pure). `at` is when the line was read. */
export function parseLogLine(line: string, patterns: LogPatterns, at: number): TimelineEvent[] {
  let time = at;
  if (patterns.time) {
    const ts = patterns.time.exec(line)?.groups?.ts;
    const parsed = ts !== undefined ? parseTimestamp(ts) : null;
    if (parsed !== null) time = parsed;
  }
  const out: TimelineEvent[] = [];
  const phase = patterns.phase.exec(line);
  if (phase?.[1]) out.push({ kind: 'phase', source: 'log', at: time, phase: phase[1] });
  if (patterns.failed.test(line)) out.push({ kind: 'failed', source: 'log', at: time, reason: line.trim().slice(0, 200) });
  else if (patterns.ready.test(line)) out.push({ kind: 'ready', source: 'log', at: time });
  return out;
}

export type LogOrigin = { from: 'target' } | { command: string } | { file: string };

/**
 * A log-line timeline source: the spawned target's output, any command's output
 * (`kubectl logs -f …`, a cloud log tail) or a file followed as it grows.
 */
export class LogSource {
  private child: ChildProcess | null = null;
  private watcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private detach: (() => void) | null = null;
  /** Where the lines come from: the target's own splitters, or this source's (one per stream). */
  private cutSoFar: () => LineCut = () => sumCuts([]);

  constructor(
    private readonly origin: LogOrigin,
    private readonly patterns: LogPatterns,
    private readonly emit: (e: TimelineEvent) => void,
    private readonly onRawLine?: (line: string, at: number) => void,
  ) {}

  start(target: TargetProcess | null): void {
    if ('from' in this.origin) {
      if (!target) throw new Error('timeline.log.from: target needs target.start');
      const onLine = (line: string, at: number) => this.line(line, at);
      target.on('line', onLine);
      this.detach = () => target.off('line', onLine);
      this.cutSoFar = () => target.cut;
    } else if ('command' in this.origin) {
      this.child = spawn('/bin/sh', ['-c', this.origin.command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      // A splitter per stream: a partial line on stdout must not be joined to a line on stderr.
      const splitters = [this.child.stdout!, this.child.stderr!].map((stream) => {
        const splitter = this.splitter();
        stream.setEncoding('utf8').on('data', (d: string) => splitter.push(d));
        return splitter;
      });
      this.cutSoFar = () => sumCuts(splitters.map((s) => s.cut));
      this.child.on('error', () => undefined);
      const forget = killOnExit(this.child.pid);
      this.child.on('exit', forget);
    } else {
      const splitter = this.splitter();
      this.cutSoFar = () => splitter.cut;
      this.follow(this.origin.file, splitter);
    }
  }

  /** Lines longer than LOG_LINE_CAP cut so far, and the bytes dropped from them. */
  get cut(): LineCut {
    return this.cutSoFar();
  }

  private splitter(): LineSplitter {
    return new LineSplitter((line, at) => this.line(line, at), { maxLine: LOG_LINE_CAP });
  }

  private line(line: string, at: number): void {
    this.onRawLine?.(line, at);
    for (const e of parseLogLine(line, this.patterns, at)) this.emit(e);
  }

  // Follows a file from its current end (and from 0 if it does not exist yet or is truncated).
  private follow(path: string, splitter: LineSplitter): void {
    let offset = 0;
    try {
      offset = statSync(path).size;
    } catch {
      offset = 0;
    }
    const buffer = Buffer.alloc(64 * 1024);
    // A character split across two reads is decoded whole.
    const text = new StringDecoder('utf8');
    const read = () => {
      let fd: number;
      try {
        const size = statSync(path).size;
        if (size < offset) offset = 0;
        if (size === offset) return;
        fd = openSync(path, 'r');
      } catch {
        return;
      }
      try {
        for (;;) {
          const n = readSync(fd, buffer, 0, buffer.length, offset);
          if (n <= 0) break;
          offset += n;
          splitter.push(text.write(buffer.subarray(0, n)));
        }
      } finally {
        closeSync(fd);
      }
    };
    try {
      this.watcher = watch(path, read);
      this.watcher.on('error', () => undefined);
    } catch {
      this.watcher = null;
    }
    // fs.watch misses events on some filesystems: poll too, cheaply.
    this.poll = setInterval(read, 50);
  }

  /** Stops reading; a line cut on the way is one `cut` event with the totals, so summary.json says so. */
  async stop(): Promise<void> {
    this.detach?.();
    this.watcher?.close();
    if (this.poll) clearInterval(this.poll);
    if (this.child) await stopGroup(this.child, 1000);
    const { lines, bytes } = this.cut;
    if (lines > 0) this.emit({ kind: 'cut', source: 'log', at: now(), lines, bytes });
  }
}
