import { EXIT } from './exit-codes.js';

export type StopSignal = 'SIGINT' | 'SIGTERM';

export interface Interruption {
  /** Aborted (reason: the signal's name) at the first SIGINT or SIGTERM. */
  signal: AbortSignal;
  /** 130 after SIGINT, 143 after SIGTERM; null while not interrupted. */
  exitCode(): number | null;
  /**
   * Stops the run as a first signal would, and never counts toward a second: a `--processes`
   * parent passing on its own Ctrl-C, which a terminal may send this process too.
   */
  stop(sig: StopSignal): void;
  detach(): void;
}

/**
 * Ctrl-C / SIGTERM for a process running wsrace (the CLI, a shard process): the first stops the
 * run gracefully (through the returned signal), a second exits at once with its own code.
 */
export function interruptHandler(stopping: string, quitting: string): Interruption {
  const controller = new AbortController();
  let exitCode: number | null = null;
  // Signals received, not stop() calls: a stop passed on by a parent may come before or after the
  // terminal's own Ctrl-C, and neither order may count as twice.
  let signals = 0;
  const stop = (sig: StopSignal) => {
    if (exitCode !== null) return;
    exitCode = sig === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
    process.stderr.write(`\nwsrace: ${sig}: ${stopping} (again to quit at once)\n`);
    controller.abort(sig);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals === 1) return stop(sig as StopSignal);
    process.stderr.write(`\nwsrace: second interrupt, exiting now (${quitting})\n`);
    process.exit(sig === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    exitCode: () => exitCode,
    stop,
    detach: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
