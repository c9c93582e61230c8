/**
 * Node's flags for a process that records a run: the CLI's own (bin/wsrace.js passes the same
 * flag; test/node-flags.test.ts checks they agree) and every shard process `--processes` starts.
 *
 * Why: a main thread recording a stream turns every message into a line, so it never allocates
 * slowly enough for V8 to shrink its young generation, and every scavenge's survivors grow it, up
 * to two 16 MB semi-spaces on this 64-bit Node. Semi-spaces of 2 MB keep ~28 MiB of RSS out of a
 * streaming run at no CPU cost measured (docs/performance.md, "The recording thread's young
 * generation"). Worker threads size theirs through piscina's resourceLimits (engine/pool.ts).
 */
export const RECORDER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/** Whether NODE_OPTIONS sizes the semi-space itself (node takes `-` and `_` alike in a flag's name). */
const SETS_SEMI_SPACE = /--max[-_]semi[-_]space[-_]size/;

/**
 * The flags to start a recording process with: none when the user's NODE_OPTIONS sizes the
 * semi-space, because a flag on the command line would override theirs.
 */
export function recorderNodeFlags(nodeOptions: string = process.env.NODE_OPTIONS ?? ''): string[] {
  return SETS_SEMI_SPACE.test(nodeOptions) ? [] : [...RECORDER_NODE_FLAGS];
}
