/** Exit codes, as the README documents them. */
export const EXIT = {
  ok: 0,
  thresholdFailed: 1,
  badInput: 2,
  cannotRun: 3,
  /** The run finished but a worker thread failed: its attempts are counted, the result is degraded. */
  degraded: 4,
  sigint: 130,
  sigterm: 143,
} as const;

/** Maps a thrown error to an exit code and a message for stderr. */
export function exitFor(err: unknown): { code: number; message: string } {
  const e = err as { exitCode?: number; message?: string };
  if (e && typeof e.exitCode === 'number') return { code: e.exitCode, message: e.message ?? String(err) };
  return { code: EXIT.cannotRun, message: `wsrace: ${(err as Error)?.stack ?? String(err)}` };
}
