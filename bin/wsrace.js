#!/bin/sh
":" //; case " $NODE_OPTIONS " in *max[-_]semi[-_]space[-_]size*) exec node "$0" "$@" ;; esac; exec node --max-semi-space-size=2 "$0" "$@"
// The line above is sh to the shebang and a string and a comment to node: `wsrace` starts node
// with the recording process's flags (RECORDER_NODE_FLAGS, src/run/node-flags.ts, which says
// why), unless NODE_OPTIONS sizes the semi-space itself; `exec` leaves no shell behind.
// `node bin/wsrace.js` runs the CLI without them.
import { main } from '../dist/cli/main.js';

await main();
