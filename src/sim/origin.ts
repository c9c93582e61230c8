/**
 * The simulator's t0 on this process's performance clock. Without a given t0 the start call is
 * the cold start; with one (the primary's, under `--processes`) every process plays the same
 * model instants, even though each started a little later: its t0Perf is then negative or past.
 */
export function clockOrigin(t0: number | undefined, timeOrigin: number, nowPerf: number): { t0Perf: number; t0: number } {
  if (t0 === undefined) return { t0Perf: nowPerf, t0: timeOrigin + nowPerf };
  return { t0Perf: t0 - timeOrigin, t0 };
}
