import { InputError } from '../scenario/errors.js';

/** Parses `--shard K/N` (0 ≤ K < N). */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new InputError(`--shard ${text}: expected K/N, for example 0/3`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new InputError(`--shard ${text}: expected 0 ≤ K < N`);
  return { index, count };
}

/** Parses `--start-at` (ISO time or epoch ms) into epoch ms. */
export function parseStartAt(text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new InputError(`--start-at ${text}: expected an ISO time like 2026-11-28T03:00:00Z or epoch milliseconds`);
  return ms;
}
