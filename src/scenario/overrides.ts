import { parse as parseYaml } from 'yaml';
import { InputError } from './errors.js';

/** Splits `load.stages[0].rate` into ['load', 'stages', 0, 'rate']. */
export function parseKeyPath(text: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]/g;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
    consumed += m[0].length;
  }
  const separators = (text.match(/\./g) ?? []).length;
  if (out.length === 0 || consumed + separators !== text.length) throw new InputError(`--set ${text}: expected a key path like load.stages[0].rate`);
  return out;
}

/** Applies `--set path=value` (value read as YAML, so numbers, lists and maps work) to raw scenario data. */
export function applySet(data: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new InputError(`--set ${assignment}: expected path=value, for example --set load.stages[0].rate=50`);
  const path = parseKeyPath(assignment.slice(0, eq));
  let value: unknown;
  try {
    value = parseYaml(assignment.slice(eq + 1));
  } catch (err) {
    throw new InputError(`--set ${assignment}: the value is not valid YAML (${(err as Error).message})`);
  }
  setIn(data, path, value);
}

export function setIn(data: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let node: Record<string | number, unknown> = data;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i];
    let next = node[key];
    if (next === undefined || next === null || typeof next !== 'object') {
      next = typeof path[i + 1] === 'number' ? [] : {};
      node[key] = next;
    }
    node = next as Record<string | number, unknown>;
  }
  node[path[path.length - 1]] = value;
}
