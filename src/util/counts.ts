/**
 * Count maps as the report files and truth files keep them: a plain object from a key (a close
 * code, an outcome, an action) to how many times it happened; a key that never happened is absent.
 */
export type Counts<K extends string = string> = Partial<Record<K, number>>;

/** Adds `n` to `key`'s count. */
export function countInto<K extends string>(counts: Counts<K>, key: K, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** Adds every count of `from` into `into`. */
export function addCounts<K extends string>(into: Counts<K>, from: Counts<K>): void {
  for (const key of Object.keys(from) as K[]) countInto(into, key, from[key] ?? 0);
}

/** A new count map, `a`'s counts plus `b`'s; neither is changed. */
export function sumCounts<M extends Counts>(a: M, b: M): M {
  const out = { ...a };
  addCounts(out, b);
  return out;
}
