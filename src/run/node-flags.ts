import v8 from 'node:v8';

/**
 * Node's flags for a process that records a run: the CLI's own (bin/wsrace.js passes the same
 * flag; test/node-flags.test.ts checks they agree) and every shard process `--processes` starts.
 *
 * Why: a main thread recording a stream turns every message into a line, so it never allocates
 * slowly enough for V8 to shrink its young generation, and every scavenge's survivors grow it, up
 * to two 16 MB semi-spaces on this 64-bit Node. Semi-spaces of 2 MB keep ~28 MiB of RSS out of a
 * streaming run at no CPU cost measured (docs/performance.md, "The recording thread's young
 * generation"). The cap is for the main thread only: see uncapWorkerThreads.
 */
export const RECORDER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/** A flag that sizes the semi-space (node takes `-` and `_` alike in a flag's name). */
const SEMI_SPACE = /^--max[-_]semi[-_]space[-_]size\b/;

/**
 * The flags to start a recording process with: none when the user's NODE_OPTIONS sizes the
 * semi-space, because a flag on the command line would override theirs; the size node was given
 * on this process's command line when it was (a shard then runs as its parent does).
 */
export function recorderNodeFlags(nodeOptions: string = process.env.NODE_OPTIONS ?? '', execArgv: readonly string[] = process.execArgv): string[] {
  if (nodeOptions.split(/\s+/).some((f) => SEMI_SPACE.test(f))) return [];
  const given = execArgv.filter((f) => SEMI_SPACE.test(f));
  return given.length > 0 ? given : [...RECORDER_NODE_FLAGS];
}

/**
 * V8 reads `--max-semi-space-size` each time it makes an isolate, and the flag overrides a worker's
 * resourceLimits. Once the main isolate has its cap, a process started with exactly the
 * recorder's flags (on node's command line or in NODE_OPTIONS) sets the flag back to V8's
 * default, so the worker threads made after it get the young generation engine/pool.ts sizes for
 * them. A size of the user's own is left alone: it sizes the workers too, as V8 does. Returns
 * whether it set the flag back.
 */
export function uncapWorkerThreads(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ''): boolean {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)];
  if (!RECORDER_NODE_FLAGS.every((f) => given.includes(f))) return false;
  v8.setFlagsFromString('--max-semi-space-size=0');
  return true;
}
