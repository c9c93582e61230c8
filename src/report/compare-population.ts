import type { Summary } from './summary.js';

/** What compare reads of a run's clients: drops, those never back, disconnects by code, the outage. */
export interface ClientsStats {
  clients: number;
  dropped: number;
  neverBack: number;
  disconnects: number;
  closeCodes: Record<string, number>;
  /** outageMs percentiles (summary.json's, ms) and how many comebacks they are of. */
  outage: Record<number, number | null>;
  comebacks: number;
}

/** The judgement's options, as compareRuns takes them. */
export interface ClientsTolerance {
  failureTolerancePp: number;
  latencyTolerancePct: number;
  minLatencyDeltaMs: number;
  minSamples: number;
  percentiles: number[];
}

export function clientsStats(s: Pick<Summary, 'clients' | 'disconnects'>, percentiles: number[]): ClientsStats | null {
  const c = s.clients;
  if (!c || c.dropped === undefined) return null;
  const outage: Record<number, number | null> = {};
  for (const q of percentiles) outage[q] = (c.outageMs as unknown as Record<string, number | null>)[`p${q}`] ?? null;
  return { clients: c.clients, dropped: c.dropped, neverBack: c.neverBack, disconnects: s.disconnects?.total ?? 0, closeCodes: s.disconnects?.closeCodes ?? {}, outage, comebacks: c.outageMs.count };
}

const share = (n: number, of: number) => (of > 0 ? (100 * n) / of : 0);

/**
 * Baseline vs candidate clients, judged like compare's outcome counts (a disconnect code or a
 * client never back absent in the baseline; a share of clients up by more than the failure
 * tolerance) and its latencies (the outage's percentiles, with the same tolerances and sample
 * floor). Only when the candidate has clients (a population or session.reconnect). Pure.
 */
export function compareClients(base: ClientsStats | null, cand: ClientsStats | null, o: ClientsTolerance): { regressions: string[]; warnings: string[] } {
  const regressions: string[] = [];
  const warnings: string[] = [];
  if (!cand) return { regressions, warnings };
  if (!base) return { regressions, warnings: ['clients: the baseline has no drop counts (no reconnecting clients, or an older wsrace): not compared'] };
  for (const code of Object.keys(cand.closeCodes)) if ((cand.closeCodes[code] ?? 0) > 0 && !(base.closeCodes[code] > 0)) regressions.push(`new disconnect code: ${code} ×${cand.closeCodes[code]} (absent in the baseline)`);
  if (cand.neverBack > 0 && base.neverBack === 0) regressions.push(`clients never back: 0 → ${cand.neverBack} (none in the baseline)`);
  for (const [what, b, c] of [
    ['clients dropped', share(base.dropped, base.clients), share(cand.dropped, cand.clients)],
    ['clients never back', share(base.neverBack, base.clients), share(cand.neverBack, cand.clients)],
  ] as const) {
    if (what === 'clients never back' && base.neverBack === 0) continue; // said above
    if (c - b > o.failureTolerancePp) regressions.push(`${what}: ${b.toFixed(1)}% → ${c.toFixed(1)}% of clients (+${(c - b).toFixed(1)} pp, tolerance ${o.failureTolerancePp} pp)`);
  }
  if (Math.min(base.comebacks, cand.comebacks) < o.minSamples) {
    if (Math.max(base.comebacks, cand.comebacks) > 0) warnings.push(`clients: outage percentiles not compared (${base.comebacks} and ${cand.comebacks} comebacks, fewer than --min-samples ${o.minSamples})`);
    return { regressions, warnings };
  }
  for (const q of o.percentiles) {
    const bv = base.outage[q];
    const cv = cand.outage[q];
    if (bv == null || cv == null) continue;
    const delta = cv - bv;
    if (delta > o.minLatencyDeltaMs && delta > (bv * o.latencyTolerancePct) / 100) {
      regressions.push(`clients: outage p${q} ${bv.toFixed(2)} ms → ${cv.toFixed(2)} ms (+${((delta / bv) * 100).toFixed(0)}%, tolerance ${o.latencyTolerancePct}%)`);
    }
  }
  return { regressions, warnings };
}

/** The clients' lines of compare's console table. */
export function renderClients(base: ClientsStats | null, cand: ClientsStats | null, percentiles: number[]): string[] {
  if (!cand) return [];
  const pair = (f: (s: ClientsStats) => string) => `${base ? f(base) : '-'} → ${f(cand)}`;
  const ms = (v: number | null) => (v === null ? '-' : v.toFixed(2));
  return [
    `clients: disconnects ${pair((s) => String(s.disconnects))}, dropped ${pair((s) => `${s.dropped}/${s.clients}`)}, never back ${pair((s) => String(s.neverBack))}`,
    `  outage ${percentiles.map((q) => `p${q} ${pair((s) => ms(s.outage[q]))} ms`).join(', ')}`,
    '',
  ];
}
