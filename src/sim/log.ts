import type { Writable } from 'node:stream';
import { formatSeconds } from './phases.js';

/**
 * The backend's startup log lines, byte for byte, so a log-line timeline source can be tested
 * against the simulator with the same regexes it uses on the real service:
 *   PHASE TRANSITION\s+->\s+(\w+)   PHASE COMPLETED   STARTUP COMPLETE   STARTUP FAILED
 * One write() per line, so a piped reader sees each line as soon as it happens.
 */
export class PhaseLog {
  constructor(private readonly out: Writable | null) {}

  private line(text: string): void {
    if (this.out && !this.out.destroyed && this.out.writable) this.out.write(`${text}\n`);
  }

  transition(phase: string): void {
    this.line(formatTransition(phase));
  }

  completed(phase: string, durationMs: number): void {
    this.line(formatCompleted(phase, durationMs));
  }

  ready(totalMs: number): void {
    this.line(formatReady(totalMs));
  }

  failed(reason: string): void {
    this.line(formatFailed(reason));
  }
}

export const formatTransition = (phase: string): string => `PHASE TRANSITION  ->  ${phase}`;
export const formatCompleted = (phase: string, durationMs: number): string => `PHASE COMPLETED: ${phase} (${formatSeconds(durationMs)}s)`;
export const formatReady = (totalMs: number): string => `STARTUP COMPLETE: service ready (${formatSeconds(totalMs)}s)`;
export const formatFailed = (reason: string): string => `STARTUP FAILED: ${reason}`;
