import type { Writable } from 'node:stream';
import type { Argv, CommandModule } from 'yargs';
import { DRAIN_MODES, loadSimConfig, NEW_PROFILES, SIM_PROFILES, STRATEGIES, type ResolvedSimOptions, type SimCliArgs } from './config.js';
import { computePlan, type StartupPlan } from './phases.js';
import { checkProcesses, runSimProcesses, type SimCluster } from './processes.js';
import { shiftPlan } from './rollout.js';
import { startSimulator, type SimHandle } from './server.js';
import { round3 } from '../util/round.js';

/**
 * `wsrace sim`: runs the cold-start simulator in the foreground until SIGINT/SIGTERM.
 * stdout carries only the backend-format phase log lines (so it can be piped into a log-line
 * timeline source); the one human line goes to stderr.
 */

/** The CLI's own defaults, lower than any config file: a fixed port people can point at. */
const CLI_DEFAULTS = { port: 8080 };

export interface RunSimIo {
  stdout?: Writable;
  stderr?: Writable;
  /** Aborting it stops the simulator; runSim resolves once everything is closed. */
  signal?: AbortSignal;
  /** Called once the simulator is up (tests use it to reach the handle). */
  onStarted?: (sim: SimHandle) => void;
  /** With --processes N > 1: called once every process listens. */
  onCluster?: (c: SimCluster) => void;
}

/** The flags, and `--processes` (CLI only: how many processes serve one port). */
export type SimCommandArgs = SimCliArgs & { processes?: number };

/** Loads config from flags (+ --config), starts the simulator, waits for the signal, closes. */
export async function runSim(args: SimCommandArgs, io: RunSimIo = {}): Promise<void> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const options = loadSimConfig(args, CLI_DEFAULTS);
  const n = args.processes ?? 1;
  checkProcesses(n, options.profile);
  if (n > 1) {
    const onStarted = (c: SimCluster) => {
      stderr.write(`wsrace sim: ${options.profile} listening on ${c.url} in ${n} processes (${eta(options, computeShownPlan(options))})\n`);
      io.onCluster?.(c);
    };
    await runSimProcesses(options, n, { stdout, stderr, signal: io.signal, onStarted });
    return;
  }
  const sim = await startSimulator({ ...options, log: stdout });
  stderr.write(`wsrace sim: ${sim.profile} listening on ${sim.url} (${eta(options, sim.plan)})\n`);
  io.onStarted?.(sim);
  if (io.signal) {
    if (!io.signal.aborted) await new Promise<void>((resolve) => io.signal!.addEventListener('abort', () => resolve(), { once: true }));
  }
  await sim.close();
}

/** When the startup (rollout: revision B's) ends, for the one human line. */
function eta(options: ResolvedSimOptions, p: StartupPlan): string {
  if (options.profile === 'rollout' && options.rolloutOnRequest) {
    const from = (ms: number) => `${((ms - p.phases[0].startMs) / 1000).toFixed(1)} s`;
    return `revision A ready; revision B (${options.newProfile}) starts on POST /_sim/rollout, ${p.failed ? `its startup fails ~${from(p.failAtMs!)}` : `its startup ~${from(p.readyAtMs!)}`} after it`;
  }
  return `${options.profile === 'rollout' ? `revision A ready; revision B (${options.newProfile}) starts at ~${(p.phases[0].startMs / 1000).toFixed(1)} s, ` : ''}${p.failed ? `startup fails at ~${(p.failAtMs! / 1000).toFixed(1)} s` : `startup ~${(p.readyAtMs! / 1000).toFixed(1)} s`}`;
}

/** The plan the processes play (the primary runs no simulator of its own): rollout shifts B's to rollout-at. */
function computeShownPlan(o: ResolvedSimOptions): StartupPlan {
  const plan = computePlan(o.phases, o.timeScale, { envMultiplier: o.envMultiplier, safetyMargin: o.safetyMargin, maxTotal: o.maxTotal });
  return o.profile === 'rollout' ? shiftPlan(plan, round3(o.rolloutAtMs * o.timeScale)) : plan;
}

const builder = (y: Argv) =>
  y
    .usage('$0 sim [options]\n\nA WebSocket + HTTP server that starts up like the real backend (seven phases, ~19.5 s at --time-scale 1) and fails the ways a half-started service does.')
    .option('profile', { type: 'string', choices: SIM_PROFILES, describe: 'how /ws behaves before ready [default: racy]' })
    .option('port', { type: 'number', describe: 'port; 0 = any free one [default: 8080]' })
    .option('host', { type: 'string', describe: 'address to bind [default: 127.0.0.1]' })
    .option('path', { type: 'string', describe: 'WebSocket path [default: /ws]' })
    .option('time-scale', { type: 'number', describe: 'wall time = model time × this; 0.1 ⇒ ~2 s startup [default: 1]' })
    .option('race-window', { type: 'string', describe: 'racy: /health is 200 this long before the bridge is ready (model time) [default: 300ms]' })
    .option('loss-window', { type: 'string', describe: 'racy: sockets accepted this long before the bridge lose their first message, and stream pings arriving in it are dropped (model time; 0 = off) [default: 200ms]' })
    .option('warm-delay', { type: 'string', describe: 'racy: a stream ping\'s reply is this late at ready, and before it once the bridge is wired (model time; 0 = off) [default: 1s]' })
    .option('warm', { type: 'string', describe: 'racy: that delay falls linearly to none over this long after ready (model time; 0 = off) [default: 2s]' })
    .option('agent-step', { type: 'string', describe: 'gap between agent events after a user_message (model time) [default: 40ms]' })
    .option('max-connections', { type: 'number', describe: 'open sockets + held upgrades; beyond it HTTP 503 [default: 10000]' })
    .option('require-auth', { type: 'boolean', describe: 'close 1008 sockets without a Bearer header or jwt.<token> subprotocol' })
    .option('truth', { type: 'string', describe: 'write one JSON line per connection handled and per stream message received (ground truth) to FILE' })
    .option('rollout-at', { type: 'string', describe: 'rollout: when revision B starts cold (model time) [default: 5s]' })
    .option('rollout-on-request', { type: 'boolean', describe: 'rollout: revision B starts when POST /_sim/rollout arrives (a deploy trigger: target.trigger), not at --rollout-at; with --processes, in every process at once' })
    .option('new', { type: 'string', choices: NEW_PROFILES, describe: 'rollout: how revision B behaves while it starts [default: racy]' })
    .option('drain', { type: 'string', choices: DRAIN_MODES, describe: 'rollout: how revision A closes its sockets: close 1012, close 1001, or cut the TCP connection [default: 1012]' })
    .option('drain-over', { type: 'string', describe: 'rollout: A\'s closes are spread evenly over this long (model time) [default: 2s]' })
    .option('strategy', { type: 'string', choices: STRATEGIES, describe: 'rollout: rolling = traffic moves and A drains when B\'s health says ready; recreate = A drains at rollout-at and traffic moves at once [default: rolling]' })
    .option('old-reply-delay', { type: 'string', describe: 'rollout: revision A holds each stream reply this long (model time), so messages are outstanding when it drains [default: 0]' })
    .option('processes', { type: 'number', describe: 'serve one port from this many processes (one may hold 20,000 descriptors); all share one t0, process 0 logs the phases, process k writes the truth to FILE.k.ext [default: 1]' })
    .option('config', { type: 'string', describe: 'JSON or YAML file with any of these options (flags win)' })
    .option('phases', { type: 'string', describe: 'phases and model seconds, in order: "init=2.415,dependencies=14.084,…"' })
    .option('timeout', { type: 'string', array: true, describe: 'base phase timeout in seconds, repeatable: dependencies=1.5' })
    .option('env-multiplier', { type: 'number', describe: 'timeout × this [default: 0.7, staging]' })
    .option('safety-margin', { type: 'number', describe: 'timeout × this [default: 1.1]' })
    .option('max-total', { type: 'string', describe: 'cap on an effective timeout, seconds [default: 5]' })
    .example('$0 sim --profile racy --time-scale 0.1', 'a ~2 s cold start that closes early sockets with 1011')
    .example('$0 sim --profile broken --truth sim-truth.jsonl', 'the seed report: dependencies times out, 503 for good')
    .example('$0 sim --profile rollout --rollout-at 5s --drain 1012 --drain-over 2s --new racy', 'a deploy: revision A drains once revision B says healthy');

type SimArgs = ReturnType<typeof builder> extends Argv<infer T> ? T : never;

export const simCommand: CommandModule<object, SimArgs> = {
  command: 'sim',
  describe: 'run the cold-start simulator (a fake backend to test wsrace against)',
  builder,
  handler: async (argv) => {
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await runSim(argv as SimCommandArgs, { signal: ac.signal });
      process.exitCode = 0;
    } catch (err) {
      process.stderr.write(`wsrace sim: ${(err as Error).message}\n`);
      process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
