/**
 * A dotted path into parsed JSON (`seq`, `data.seq`, `items[0].id`), compiled once into its
 * segments so that reading it per message is a few property loads.
 */
export type JsonPath = readonly (string | number)[];

const SEGMENT = /^([A-Za-z_$][\w$-]*)((?:\[\d+\])*)$/;

/** Compiles `a.b[0].c`; throws an Error saying what was expected when the path is malformed. */
export function compileJsonPath(path: string): JsonPath {
  const out: (string | number)[] = [];
  for (const part of path.split('.')) {
    const m = SEGMENT.exec(part);
    if (!m) throw new Error(`expected a JSON path like seq or data.items[0].seq, found "${path}"`);
    out.push(m[1]);
    for (const index of m[2].matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

/** The value at `path` in `value`, or undefined when any step is missing. */
export function readJsonPath(value: unknown, path: JsonPath): unknown {
  let at = value;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return at;
}
