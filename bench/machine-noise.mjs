// How often this machine takes the CPU away from a thread that wants it: spins for SECONDS and
// counts the gaps (> 0.5 ms) between consecutive clock reads — time the thread did not run
// (a VM's vCPU descheduled by its host, or another thread preempting). No sockets, no timers:
// schedule lag of that size is the machine's, not wsrace's.
// Prints {"gaps":…, "lostMs":…, "largestMs":[…]}. Usage: node bench/machine-noise.mjs SECONDS
const seconds = Number(process.argv[2] ?? 3);
const end = performance.now() + seconds * 1000;
const gaps = [];
let last = performance.now();
while (last < end) {
  const t = performance.now();
  if (t - last > 0.5) gaps.push(t - last);
  last = t;
}
gaps.sort((a, b) => b - a);
const lost = gaps.reduce((a, b) => a + b, 0);
process.stdout.write(JSON.stringify({ seconds, gaps: gaps.length, lostMs: +lost.toFixed(2), largestMs: gaps.slice(0, 5).map((g) => +g.toFixed(2)) }) + '\n');
