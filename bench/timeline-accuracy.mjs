// How close a phase boundary seen through a log line lands to the simulator's own clock:
// 5 runs of the gated profile at 1/10 time, each log-observed phase start vs the truth file.
// node bench/timeline-accuracy.mjs   (after npm run build)
import { parseScenarioText } from '../dist/scenario/load.js';
import { runScenario } from '../dist/run/run.js';
import { readFileSync } from 'node:fs';
/** @type {number[]} */
const deltas = [];
for (let r = 0; r < 5; r++) {
  const port = 18300 + r;
  const truth = `${process.env.TMPDIR ?? "/tmp"}/wsrace-truth-${r}.ndjson`;
  const text = `name: m\ntarget:\n  url: ws://127.0.0.1:${port}/ws\n  start:\n    command: '\${WSRACE} sim --profile gated --port ${port} --time-scale 0.1 --truth ${truth}'\nload:\n  stages: [{ duration: 3s, rate: 20 }]\nsession: { hold: 50ms }\ntimeline:\n  log: { from: target }\n`;
  const { summary: s } = await runScenario(parseScenarioText(text, 'm.yaml'), { outDir: `${process.env.TMPDIR ?? "/tmp"}/wsrace-accuracy-${r}`, workers: 2 });
  const phases = readFileSync(truth, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'phase');
  for (const span of s.timeline) {
    const t = phases.find((p) => p.phase === span.phase);
    if (t) deltas.push(span.startMs - (t.at - s.t0EpochMs));
  }
}
deltas.sort((a, b) => a - b);
console.log('n', deltas.length, 'min', deltas[0].toFixed(3), 'p50', deltas[Math.floor(deltas.length / 2)].toFixed(3), 'max', deltas[deltas.length - 1].toFixed(3));
