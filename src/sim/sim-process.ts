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
  let sim: SimHandle | null = null;
  let stopAsked = false;
  let closing: Promise<void> | null = null;
  const stop = () => {
    stopAsked = true;
    if (sim) closing ??= sim.close().then(() => process.disconnect?.());
  };
  // Listening to the primary before the simulator is up: a rollout a request started in another process may come first.
  const rollouts = new RolloutLink();
  process.on('message', (m: ToSimProcess) => (m.type === 'stop' ? stop() : rollouts.onMessage(m)));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.once('disconnect', () => (rollouts.primaryGone(), stop()));
  try {
    sim = await startSimulator({ ...options, log: logs ? process.stdout : null });
  } catch (err) {
    send({ type: 'failed', message: (err as Error).message, exitCode: (err as { exitCode?: number }).exitCode ?? 1 });
    process.exitCode = 1;
    process.disconnect?.();
    return;
  }
  if (sim instanceof RolloutSimulator) rollouts.attach(sim);
  send({ type: 'listening', port: sim.port });
  if (stopAsked) stop();
}

/**
 * This process's side of --rollout-on-request across processes (processes.ts passRolloutOn): a
 * request that reached it asks the primary for B's start; the primary's `rollout` (another
 * process's request) starts B here, kept until the simulator is up.
 */
class RolloutLink {
  private sim: RolloutSimulator | null = null;
  private early: number | null = null;
  private readonly waiting: { atMs: number; resolve: (told: { atMs: number; first: boolean }) => void }[] = [];

  attach(sim: RolloutSimulator): void {
    this.sim = sim;
    sim.askRollout = (atMs) => {
      if (!process.connected) return Promise.resolve({ atMs, first: true });
      return new Promise((resolve) => {
        this.waiting.push({ atMs, resolve });
        send({ type: 'rollout', atMs });
      });
    };
    if (this.early !== null) sim.rolloutAt(this.early);
  }

  onMessage(m: Exclude<ToSimProcess, { type: 'stop' }>): void {
    if (m.type === 'rollout-told') return this.waiting.shift()?.resolve({ atMs: m.atMs, first: m.first });
    if (this.sim) this.sim.rolloutAt(m.atMs);
    else this.early = m.atMs;
  }

  /** No primary to ask: a waiting request starts B at its own moment. */
  primaryGone(): void {
    for (const w of this.waiting.splice(0)) w.resolve({ atMs: w.atMs, first: true });
  }
}

function send(m: FromSimProcess): void {
  if (process.connected) process.send?.(m);
}

main().catch((err: Error) => {
  process.stderr.write(`wsrace sim process: ${err.message}\n`);
  process.exitCode = 1;
});
