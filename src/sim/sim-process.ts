import { processOptions, SIM_PROCESS_ENV, type FromSimProcess, type SimProcessSpec, type ToSimProcess } from './processes.js';
import { startSimulator, type SimHandle } from './server.js';
import { RolloutSimulator } from './rollout-server.js';

/**
 * One simulator process of `wsrace sim --processes N` (a node:cluster worker; see processes.ts):
 * starts the simulator on the primary's t0, says its port, and closes it (truth file flushed)
 * when the primary says stop, on SIGINT/SIGTERM (a terminal's Ctrl-C reaches every process), or
 * when the primary is gone.
 */
async function main(): Promise<void> {
  const spec = JSON.parse(process.env[SIM_PROCESS_ENV] ?? 'null') as SimProcessSpec | null;
  if (!spec) throw new Error(`sim process: ${SIM_PROCESS_ENV} is not set (this file is started by wsrace sim --processes)`);
  const { logs, ...options } = processOptions(spec);
  let sim: SimHandle;
  try {
    sim = await startSimulator({ ...options, log: logs ? process.stdout : null });
  } catch (err) {
    send({ type: 'failed', message: (err as Error).message, exitCode: (err as { exitCode?: number }).exitCode ?? 1 });
    process.exitCode = 1;
    process.disconnect?.();
    return;
  }
  let closing: Promise<void> | null = null;
  const stop = () => (closing ??= sim.close().then(() => process.disconnect?.()));
  // A request that started B here is answered once the primary has told the other processes (or is gone).
  const told: (() => void)[] = [];
  if (sim instanceof RolloutSimulator) sim.onRolloutRequested = (atMs) => (process.connected ? new Promise<void>((resolve) => (told.push(resolve), send({ type: 'rollout', atMs }))) : undefined);
  process.on('message', (m: ToSimProcess) => {
    if (m.type === 'stop') void stop();
    else if (m.type === 'rollout-told') told.shift()?.();
    else if (sim instanceof RolloutSimulator) sim.rolloutAt(m.atMs);
  });
  process.once('disconnect', () => told.splice(0).forEach((resolve) => resolve()));
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  process.once('disconnect', () => void stop());
  send({ type: 'listening', port: sim.port });
}

function send(m: FromSimProcess): void {
  if (process.connected) process.send?.(m);
}

main().catch((err: Error) => {
  process.stderr.write(`wsrace sim process: ${err.message}\n`);
  process.exitCode = 1;
});
