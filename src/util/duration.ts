/** Parses `250ms`, `1.5s`, `2m` or a bare number of milliseconds into milliseconds. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new Error(`expected a non-negative duration, found ${text}`);
    return text;
  }
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m)?\s*$/.exec(text);
  if (!m) throw new Error(`expected a duration like 500ms, 5s or 2m, found "${text}"`);
  const value = Number(m[1]);
  const unit = m[2] ?? 'ms';
  return unit === 'm' ? value * 60_000 : unit === 's' ? value * 1000 : value;
}

/** Formats milliseconds for people: 850ms, 2.41s, 3m05s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms - m * 60_000) / 1000);
  return `${m}m${String(s).padStart(2, '0')}s`;
}
