/**
 * The open-model arrival schedule: when each connection attempt starts, as a pure function
 * of the stages, computed before the run (the idea of k6's arrival-rate executors).
 *
 * Within a stage of duration D whose rate goes linearly from r0 to r1 attempts/s, the
 * cumulative number of arrivals after t seconds is
 *
 *     N(t) = r0·t + a·t²/2,      a = (r1 − r0) / D
 *
 * and the stages are chained, so N is continuous over the whole schedule. Attempt k
 * (k = 0, 1, 2, …) starts at the instant N(t) = k, i.e. the smaller root of a·t²/2 + r0·t − k = 0,
 * written in the form that is stable for a = 0 (constant rate) and a < 0 (ramp down):
 *
 *     t_k = 2k / (r0 + √(r0² + 2·a·k))
 *
 * The number of attempts in a schedule of total duration T is ⌈N(T)⌉: every k < N(T).
 * A constant 200/s for 5 s is therefore exactly 1000 attempts at 0, 5, 10, … 4995 ms.
 */
export interface Stage {
  /** Stage length in milliseconds. */
  durationMs: number;
  /** Arrival rate at the start of the stage, attempts per second. */
  rate: number;
  /** Arrival rate at the end of the stage (linear ramp); defaults to `rate`. */
  rampTo?: number;
}

// Guards ⌈N(T)⌉ against binary fractions: 200/s × 5 s must be 1000, not 1001.
const EPSILON = 1e-9;

/** Arrivals the stage contributes: the area under its rate line. */
export function stageArrivals(stage: Stage): number {
  const r1 = stage.rampTo ?? stage.rate;
  return ((stage.rate + r1) / 2) * (stage.durationMs / 1000);
}

/** Total number of attempts the stages schedule. */
export function scheduledCount(stages: readonly Stage[]): number {
  const total = stages.reduce((sum, s) => sum + stageArrivals(s), 0);
  return Math.max(0, Math.ceil(total - EPSILON));
}

/** Total schedule length in milliseconds. */
export function scheduleDurationMs(stages: readonly Stage[]): number {
  return stages.reduce((sum, s) => sum + s.durationMs, 0);
}

/** Start offsets (ms from the schedule's start) of every attempt, in order. */
export function scheduleOffsets(stages: readonly Stage[]): Float64Array {
  const out = new Float64Array(scheduledCount(stages));
  let k = 0;
  let before = 0; // arrivals completed by the earlier stages (fractional)
  let stageStart = 0;
  for (const stage of stages) {
    const arrivals = stageArrivals(stage);
    const end = before + arrivals;
    const seconds = stage.durationMs / 1000;
    const r0 = stage.rate;
    const a = seconds > 0 ? ((stage.rampTo ?? stage.rate) - r0) / seconds : 0;
    for (; k < out.length && k < end - EPSILON; k++) {
      const local = k - before; // arrivals into this stage at attempt k
      const t = local <= 0 ? 0 : (2 * local) / (r0 + Math.sqrt(Math.max(0, r0 * r0 + 2 * a * local)));
      out[k] = stageStart + Math.min(t * 1000, stage.durationMs);
    }
    before = end;
    stageStart += stage.durationMs;
  }
  return out;
}

/** Highest instantaneous arrival rate across the stages, attempts per second. */
export function peakRate(stages: readonly Stage[]): number {
  return stages.reduce((max, s) => Math.max(max, s.rate, s.rampTo ?? s.rate), 0);
}
