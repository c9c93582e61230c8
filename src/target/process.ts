import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { EventEmitter } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
import { now } from '../util/clock.js';
import { LOG_LINE_CAP, LineSplitter, sumCuts, type LineCut } from '../util/lines.js';
import { signalGroup, stopGroup } from './signal.js';

export interface TargetStartOptions {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  stopGraceMs: number;
  /** File that receives the target's stdout and stderr. */
  logFile: string;
  /** A trigger: its output goes straight to the file, and it may outlive wsrace (never killed). */
  keepRunning?: boolean;
}

/** Process groups still running; killed if wsrace exits at once (a second Ctrl-C). */
const live = new Set<number>();
let exitHookInstalled = false;

/** Registers a detached child's process group to be killed if wsrace exits abruptly. */
export function killOnExit(pid: number | undefined): () => void {
  if (pid === undefined) return () => undefined;
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const pid of live) signalGroup(pid, 'SIGKILL');
    });
  }
  live.add(pid);
  return () => live.delete(pid);
}

/**
 * A target process started through /bin/sh -c (so `VAR=x cmd | tee` works as typed), in its own
 * process group so stopping it stops everything it started. Emits 'line' for each output line
 * (the timeline reads them) and 'exit' with its code or signal.
 */
export class TargetProcess extends EventEmitter {
  readonly startedAt: number;
  exited: { code: number | null; signal: NodeJS.Signals | null; at: number } | null = null;
  private readonly child: ChildProcess;
  private readonly log: WriteStream | null;
  private readonly splitters: LineSplitter[] = [];

  constructor(private readonly options: TargetStartOptions) {
    super();
    if (options.keepRunning) {
      // Straight to the file: no pipe back to wsrace that would break when wsrace exits first.
      const fd = openSync(options.logFile, 'w');
      this.startedAt = now();
      this.child = spawn('/bin/sh', ['-c', options.command], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', fd, fd], detached: true });
      closeSync(fd);
      this.log = null;
      this.child.on('error', (err) => this.emit('spawn-error', err));
      this.child.on('exit', (code, signal) => {
        this.exited = { code, signal, at: now() };
        this.emit('exit', this.exited);
      });
      return;
    }
    this.log = createWriteStream(options.logFile);
    this.startedAt = now();
    this.child = spawn('/bin/sh', ['-c', options.command], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      const lines = new LineSplitter((line, at) => this.emit('line', line, at), { maxLine: LOG_LINE_CAP });
      this.splitters.push(lines);
      // A character split across two reads is decoded whole.
      const text = new StringDecoder('utf8');
      stream.on('data', (chunk: Buffer) => {
        this.log!.write(chunk);
        lines.push(text.write(chunk));
      });
    }
    const forget = killOnExit(this.child.pid);
    this.child.on('error', (err) => this.emit('spawn-error', err));
    this.child.on('exit', (code, signal) => {
      forget();
      this.exited = { code, signal, at: now() };
      this.emit('exit', this.exited);
    });
  }

  /** Output lines longer than LOG_LINE_CAP cut so far (the file gets them whole), and the bytes dropped. */
  get cut(): LineCut {
    return sumCuts(this.splitters.map((s) => s.cut));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGTERM to the process group, SIGKILL after the grace period; resolves once it has exited. */
  async stop(): Promise<void> {
    if (!this.exited) await stopGroup(this.child, this.options.stopGraceMs);
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
  }

  /** Lets a trigger run on after wsrace (a deploy must not be killed halfway). */
  release(): void {
    this.child.unref();
  }
}
