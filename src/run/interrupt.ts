import { EXIT } from './exit-codes.js';

export type StopSignal = 'SIGINT' | 'SIGTERM';

export interface Interruption {
  /** Aborted (reason: the signal's name) at the first SIGINT or SIGTERM. */
  signal: AbortSignal;
  /** 130 after SIGINT, 143 after SIGTERM; null while not interrupted. */
  exitCode(): number | null;
  /**
   * Stops the run as a first signal would, but never counts as a second one: a `--processes`
   * parent passing on its own Ctrl-C, which a terminal may have sent this process already.
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
  const stop = (sig: StopSignal) => {
    exitCode = sig === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
    process.stderr.write(`\nwsrace: ${sig}: ${stopping} (again to quit at once)\n`);
    controller.abort(sig);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (exitCode === null) return stop(sig as StopSignal);
    process.stderr.write(`\nwsrace: second interrupt, exiting now (${quitting})\n`);
    process.exit(sig === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    exitCode: () => exitCode,
    stop: (sig) => {
      if (exitCode === null) stop(sig);
    },
    detach: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
