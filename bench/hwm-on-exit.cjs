// Preloaded (`node --require`) by bench/big-run.mjs into the process it measures: as the process
// exits, writes its /proc/self/status (VmHWM: peak resident memory) to $WSRACE_HWM_FILE.
const { readFileSync, writeFileSync } = require('node:fs');

process.on('exit', () => {
  const file = process.env.WSRACE_HWM_FILE;
  if (file) writeFileSync(file, readFileSync('/proc/self/status', 'utf8'));
});
