/**
 * Milliseconds as the report files write them: to the microsecond, 3 decimals at most (the
 * clock's resolution on the files' scale; more digits would only be noise and bytes).
 */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
