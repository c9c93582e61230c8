/** The exit codes live with the library's process entries (a `--processes` shard exits with them too). */
export { EXIT, exitFor } from '../run/exit-codes.js';
