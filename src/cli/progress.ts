import type { Progress } from '../run/run.js';
import { formatDuration } from '../util/duration.js';

/** One status line: elapsed, the phase, attempts and rate, open sockets, a population's clients connected, the stream's messages, failures by kind. */
export function progressLine(p: Progress): string {
  const failures = Object.entries(p.failures)
    .sort(([, a], [, b]) => b - a)
    .slice(0, 6)
    .map(([k, n]) => `${k}:${n}`)
    .join(' ');
  const messages = p.messages ? `  msgs ${p.messages.perSecond}/s lost ${p.messages.lost}` : '';
  // Reconnecting clients: the schedule's own attempts against its count, the retries beside them, the cuts.
  const c = p.clients;
  const attempts = c ? `${p.attempted - c.retries}/${p.scheduled} attempts +${c.retries} retries` : `${p.attempted}/${p.scheduled} attempts`;
  const cuts = c && c.drops > 0 ? `  cut ${c.drops}` : '';
  const connected = p.population ? `  connected ${p.population.connected}/${p.population.clients}` : '';
  const phase = p.phase ? `  [${p.phase}]` : '';
  return `${formatDuration(Math.max(0, p.elapsedMs)).padStart(7)}${phase}  ${attempts}  ${p.perSecond}/s  open ${p.openNow}${connected}${cuts}${messages}${failures ? `  ${failures}` : ''}`;
}

/**
 * Live progress on stderr: redrawn every second on a terminal, a plain line every 10 s
 * otherwise (CI logs), nothing with --quiet.
 */
export function progressPrinter(stream: NodeJS.WriteStream, quiet: boolean): { update(p: Progress): void; end(): void } {
  if (quiet) return { update() {}, end() {} };
  if (stream.isTTY) {
    let drawn = false;
    return {
      update(p) {
        const line = progressLine(p).slice(0, (stream.columns || 120) - 1);
        stream.write(`\r\x1b[2K${line}`);
        drawn = true;
      },
      end() {
        if (drawn) stream.write('\r\x1b[2K');
      },
    };
  }
  let last = 0;
  return {
    update(p) {
      if (p.elapsedMs - last >= 10_000) {
        last = p.elapsedMs;
        stream.write(progressLine(p) + '\n');
      }
    },
    end() {},
  };
}
