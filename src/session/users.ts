import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { InputError } from '../scenario/errors.js';

/**
 * Test users for per-connection templating (`${user.token}`): a CSV file with a header row, or a
 * JSON list of objects. Connection i gets user i mod N (round robin). Values are strings.
 */
export function loadUsers(file: string, key = 'session.users'): Record<string, string>[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let rows: unknown;
  try {
    rows = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseCsv(text, { columns: true, skip_empty_lines: true, trim: true });
  } catch (err) {
    throw new InputError(`${key}: ${file} is not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'CSV'} (${(err as Error).message.split('\n')[0]})`);
  }
  if (!Array.isArray(rows) || rows.length === 0 || !rows.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r))) {
    throw new InputError(`${key}: expected ${file} to hold at least one user (CSV with a header row, or a JSON list of objects)`);
  }
  return rows.map((r) => Object.fromEntries(Object.entries(r as Record<string, unknown>).map(([k, v]) => [k, String(v)])));
}
