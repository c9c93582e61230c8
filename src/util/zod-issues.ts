import type { core } from 'zod';
import { valueAt } from './key-path.js';

/**
 * Input errors from zod issues, worded the same way for every input wsrace reads (scenario
 * files, flags, simulator configs): "<where>: expected …, found …". Each caller says where a
 * value came from and how to word keys its schema does not know.
 */

/** A value as an error message shows it: JSON, cut to 60 characters. */
export function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing (the key is missing)';
  const json = JSON.stringify(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** `unknown key "a"` or `unknown keys "a", "b"`. */
export function unknownKeysPhrase(keys: readonly string[]): string {
  return `unknown key${keys.length > 1 ? `s ${keys.map((k) => `"${k}"`).join(', ')}` : ` "${keys[0]}"`}`;
}

export interface IssueWording {
  /** The start of the line for the value at `path`, before ": expected …" ("file:12: load.rate", "sim option --port"). */
  at(path: readonly PropertyKey[]): string;
  /** The whole line for keys the schema does not know: each input suggests its own fix. */
  unknownKeys(issue: core.$ZodIssueUnrecognizedKeys): string;
}

/** What was expected: the schema's message, which starts with "expected" (zod's own type messages get the type). */
function expectedOf(issue: core.$ZodIssue): string {
  let expected = issue.message;
  if (issue.code === 'invalid_type' && !expected.startsWith('expected')) expected = `expected ${issue.expected}`;
  return expected.startsWith('expected') ? expected : `expected ${expected}`;
}

/** One issue as one line of an input error. */
export function describeIssue(issue: core.$ZodIssue, data: unknown, wording: IssueWording): string {
  if (issue.code === 'unrecognized_keys') return wording.unknownKeys(issue);
  const expected = expectedOf(issue);
  // Some messages already say what was found (a source address list names the bad item).
  if (/\bfound\b/.test(expected)) return `${wording.at(issue.path)}: ${expected}`;
  return `${wording.at(issue.path)}: ${expected}, found ${describeFound(valueAt(data, issue.path))}`;
}
