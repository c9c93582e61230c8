/**
 * The entry of a `--processes` shard process, forked by processes.ts: it takes its typed options
 * from the IPC channel, loads the scenario and runs its shard, reports how that ended and exits
 * with the code the CLI would. Not imported by anything: importing it would start listening.
 */
import { loadScenarioFile } from '../scenario/load.js';
import { EXIT, exitFor } from './exit-codes.js';
import { interruptHandler } from './interrupt.js';
import type { FromShard, ShardOutcome, ShardProcessOptions, ToShard } from './processes.js';
import { runScenario } from './run.js';

if (!process.send) {
  process.stderr.write('wsrace: shard-process is started by runProcesses (wsrace run --processes N), with an IPC channel\n');
  process.exit(EXIT.badInput);
}

const interrupt = interruptHandler('stopping, closing sockets and writing the partial report', 'events.ndjson has what finished so far');

/** Aborted (reason: the expression) when another shard's abortOnFail threshold failed. */
const siblingAborted = new AbortController();

process.on('message', (msg: ToShard) => {
  if (msg.type === 'stop') interrupt.stop(msg.reason);
  else if (msg.type === 'abort') siblingAborted.abort(msg.expr);
  else void runShard(msg.options).then(report);
});

async function runShard(o: ShardProcessOptions): Promise<ShardOutcome> {
  try {
    const loaded = loadScenarioFile(o.scenarioFile, o.overrides);
    const result = await runScenario(loaded, {
      shard: o.shard,
      startAt: o.startAt,
      outDir: o.outDir,
      workers: o.workers,
      spinBudget: o.spinBudget,
      nice: o.nice,
      signal: interrupt.signal,
      abortSignal: siblingAborted.signal,
      onAbort: (a) => process.send!({ type: 'aborted', expr: a.expr } satisfies FromShard),
      onProgress: (progress) => process.send!({ type: 'progress', progress } satisfies FromShard),
      onWarning: (m) => process.stderr.write(`wsrace: ${m}\n`),
    });
    const degraded = result.summary.workers.some((w) => w.error !== null);
    return { type: 'finished', exitCode: interrupt.exitCode() ?? (degraded ? EXIT.degraded : result.exitCode) };
  } catch (err) {
    const { code, message } = exitFor(err);
    process.stderr.write(`${message}\n`);
    return { type: 'failed', exitCode: code, message };
  } finally {
    interrupt.detach();
  }
}

/** Tells the parent, lets the channel go and exits on its own (so stdout and stderr drain). */
function report(outcome: ShardOutcome): void {
  process.exitCode = outcome.exitCode;
  process.send!(outcome, () => process.disconnect());
}
