import { parse as parseYaml } from 'yaml';
import { InputError } from './errors.js';
import { formatPath } from '../util/key-path.js';

/** Splits `load.stages[0].rate` into ['load', 'stages', 0, 'rate']. */
export function parseKeyPath(text: string): (string | number)[] {
  // A key, then .key or [index] parts: no empty keys (a..b), no key glued to an index (a[0]b).
  if (!/^[^.[\]]+(\.[^.[\]]+|\[\d+\])*$/.test(text)) throw new InputError(`--set ${text}: expected a key path like load.stages[0].rate`);
  const out: (string | number)[] = [];
  for (const m of text.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

/**
 * Applies `--set path=value` (value read as YAML, so numbers, lists and maps work) to raw scenario
 * data. Returns the shortest prefix of the path that the assignment created (a new list item, a
 * new map), or the path itself: everything under it came from the flag.
 */
export function applySet(data: Record<string, unknown>, assignment: string): (string | number)[] {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new InputError(`--set ${assignment}: expected path=value, for example --set load.stages[0].rate=50`);
  const path = parseKeyPath(assignment.slice(0, eq));
  let value: unknown;
  try {
    value = parseYaml(assignment.slice(eq + 1));
  } catch (err) {
    throw new InputError(`--set ${assignment}: the value is not valid YAML (${(err as Error).message})`);
  }
  try {
    return setIn(data, path, value);
  } catch (err) {
    throw new InputError(`--set ${assignment}: ${(err as Error).message}`);
  }
}

/** Sets a value at a key path, creating maps and list items on the way; returns the first path it created (or the path). */
export function setIn(data: Record<string, unknown>, path: (string | number)[], value: unknown): (string | number)[] {
  let node: Record<string | number, unknown> = data;
  let created: (string | number)[] | null = null;
  for (let i = 0; i < path.length; i++) {
    let key = path[i];
    // In a list, `stages.1` is `stages[1]`; any other name would be a property the schema never sees.
    if (Array.isArray(node) && typeof key === 'string') {
      if (!/^\d+$/.test(key)) throw new Error(`${formatPath(path.slice(0, i))} is a list: expected an index like [0], found "${key}"`);
      key = path[i] = Number(key);
    }
    // A list grows by one at its end; an index past that would leave holes.
    if (Array.isArray(node) && typeof key === 'number' && key > node.length) {
      throw new Error(`${formatPath(path.slice(0, i))} has ${node.length} item${node.length === 1 ? '' : 's'}: [${key}] is past its end (the next one is [${node.length}])`);
    }
    if (i === path.length - 1) break;
    let next = node[key];
    if (next === undefined || next === null || typeof next !== 'object') {
      next = typeof path[i + 1] === 'number' || /^\d+$/.test(String(path[i + 1])) ? [] : {};
      node[key] = next;
      created ??= path.slice(0, i + 1);
    }
    node = next as Record<string | number, unknown>;
  }
  node[path[path.length - 1]] = value;
  return created ?? path;
}
