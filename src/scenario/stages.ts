import type { Stage } from '../schedule/arrival.js';
import type { Scenario } from './schema.js';

/** The scenario's load stages as the schedule takes them. */
export function stagesOf(s: Scenario): Stage[] {
  return (s.load.stages ?? []).map((st) => ({ durationMs: st.duration, rate: st.rate, rampTo: st.rampTo }));
}
