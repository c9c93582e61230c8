/**
 * Does a JSON value contain `subset` (an expect step's `json`)? Every key of an object, recursively;
 * arrays element by element and of the same length; scalars by equality.
 */
export function jsonContains(value: unknown, subset: unknown): boolean {
  if (subset === null || typeof subset !== 'object') return value === subset;
  if (Array.isArray(subset)) return Array.isArray(value) && subset.length === value.length && subset.every((x, i) => jsonContains(value[i], x));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return Object.entries(subset).every(([k, v]) => jsonContains((value as Record<string, unknown>)[k], v));
}
