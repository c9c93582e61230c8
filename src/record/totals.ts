import { ERROR_KINDS, type AttemptRecord, type ErrorKind } from './attempt.js';
import { addCounts, countInto } from '../util/counts.js';

/** Distinct close reasons kept per code: enough to see the story, bounded against floods. */
export const REASONS_PER_CODE = 5;

/**
 * Exact outcome counts. Every attempt is in exactly one bucket:
 *   attempted = dropped + Σ closeCodes + Σ httpStatus + Σ errors
 * and `opened` counts the attempts that reached open (Σ closeCodes + expect_timeout + the
 * opened ones among interrupted).
 */
export interface Totals {
  attempted: number;
  opened: number;
  dropped: number;
  closeCodes: Record<string, number>;
  closeReasons: Record<string, string[]>;
  httpStatus: Record<string, number>;
  errors: Record<ErrorKind, number>;
  /** What the `error` bucket was made of, by error code (EMFILE, invalid_accept, …). */
  errorCodes: Record<string, number>;
}

export function emptyTotals(): Totals {
  return {
    attempted: 0,
    opened: 0,
    dropped: 0,
    closeCodes: {},
    closeReasons: {},
    httpStatus: {},
    errors: Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<ErrorKind, number>,
    errorCodes: {},
  };
}

function keepReason(totals: Totals, code: string, reason: string): void {
  const list = (totals.closeReasons[code] ??= []);
  if (list.length < REASONS_PER_CODE && !list.includes(reason)) list.push(reason);
}

/** Counts one finished attempt. */
export function addAttempt(totals: Totals, r: AttemptRecord): void {
  totals.attempted++;
  if (r.open !== null) totals.opened++;
  switch (r.outcome) {
    case 'close': {
      const code = String(r.code ?? 1006);
      countInto(totals.closeCodes, code);
      if (r.reason) keepReason(totals, code, r.reason);
      break;
    }
    case 'http':
      countInto(totals.httpStatus, String(r.status ?? 0));
      break;
    case 'dropped':
      totals.dropped++;
      break;
    case 'error':
      totals.errors.error++;
      countInto(totals.errorCodes, r.err ?? 'unknown');
      break;
    default:
      totals.errors[r.outcome]++;
  }
}

/** Adds `from` into `into` (workers, phases, shards): sums, reasons merged in order. */
export function mergeTotals(into: Totals, from: Totals): Totals {
  into.attempted += from.attempted;
  into.opened += from.opened;
  into.dropped += from.dropped;
  addCounts(into.closeCodes, from.closeCodes);
  addCounts(into.httpStatus, from.httpStatus);
  addCounts(into.errorCodes, from.errorCodes);
  for (const k of ERROR_KINDS) into.errors[k] += from.errors[k] ?? 0;
  for (const [code, reasons] of Object.entries(from.closeReasons)) for (const reason of reasons) keepReason(into, code, reason);
  return into;
}

/** Attempts that did not succeed: anything but a close the client asked for with 1000. */
export function failureCount(t: Totals): number {
  const httpFailures = Object.values(t.httpStatus).reduce((a, b) => a + b, 0);
  const badCloses = Object.entries(t.closeCodes).reduce((sum, [code, n]) => (code === '1000' ? sum : sum + n), 0);
  return t.dropped + httpFailures + badCloses + ERROR_KINDS.reduce((sum, k) => (k === 'interrupted' ? sum : sum + t.errors[k]), 0);
}
