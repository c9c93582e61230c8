/**
 * The duration grammar every wsrace input shares: a number and an optional unit, `250ms`,
 * `1.5s`, `2m`. What a bare number means is the caller's choice (milliseconds for scenarios,
 * seconds for the simulator's phase figures).
 */
const MS_PER_UNIT = { ms: 1, s: 1000, m: 60_000 } as const;
export type DurationUnit = keyof typeof MS_PER_UNIT;

/** The units as a regular-expression alternation, for grammars that embed a duration (thresholds). */
export const DURATION_UNITS = 'ms|s|m';

/**
 * An unsigned decimal number as people and `${VAR}` write it, exponent included (`5e0`, `2.5E-1`,
 * `1e3`): a regular-expression source, for grammars that embed one.
 */
export const DECIMAL = '\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?';

const DURATION = new RegExp(`^\\s*(${DECIMAL}|\\.\\d+)\\s*(${DURATION_UNITS})?\\s*$`);

/** `value` `unit`s in milliseconds; no unit means milliseconds. */
export function unitToMs(value: number, unit: DurationUnit | undefined): number {
  return unit === undefined ? value : value * MS_PER_UNIT[unit];
}

/** A duration's number and unit (undefined when bare), or null when the text is not a duration. */
export function splitDuration(text: string): { value: number; unit: DurationUnit | undefined } | null {
  const m = DURATION.exec(text);
  return m ? { value: Number(m[1]), unit: m[2] as DurationUnit | undefined } : null;
}

/** Parses `250ms`, `1.5s`, `2m` or a bare number of milliseconds into milliseconds. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new Error(`expected a non-negative duration, found ${text}`);
    return text;
  }
  const d = splitDuration(text);
  if (!d) throw new Error(`expected a duration like 500ms, 5s or 2m, found "${text}"`);
  return unitToMs(d.value, d.unit);
}

/** Formats milliseconds for people: 850ms, 2.41s, 3m05s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms - m * 60_000) / 1000);
  return `${m}m${String(s).padStart(2, '0')}s`;
}
