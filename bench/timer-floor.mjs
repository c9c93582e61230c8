// The floor of schedule lag on this machine: wsrace's scheduling pattern (one timer, rounded down
// to whole ms, starting everything that is due) at RATE per second for SECONDS, with no sockets
// and no recording. Whatever lateness this shows is the event loop and the machine, not wsrace.
// Prints {"p50":…, "p99":…, "max":…} in ms. Usage: node bench/timer-floor.mjs RATE SECONDS
const [rate, seconds] = [Number(process.argv[2] ?? 800), Number(process.argv[3] ?? 4)];
const count = Math.round(rate * seconds);
const start = performance.now() + 10;
const lates = new Float64Array(count);
let next = 0;
const pump = () => {
  const t = performance.now();
  while (next < count && start + (next * 1000) / rate <= t) {
    lates[next] = t - (start + (next * 1000) / rate);
    next++;
  }
  if (next < count) setTimeout(pump, Math.max(0, Math.floor(start + (next * 1000) / rate - performance.now())));
  else {
    lates.sort();
    /** @param {number} p */
    const at = (p) => +lates[Math.min(count - 1, Math.floor(p * count))].toFixed(3);
    process.stdout.write(JSON.stringify({ p50: at(0.5), p99: at(0.99), max: at(1) }) + '\n');
  }
};
setTimeout(pump, 10);
