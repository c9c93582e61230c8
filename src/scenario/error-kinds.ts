/**
 * The failure buckets that summary.json's totals.errors always lists. A scenario names them
 * (thresholds such as totals.errors.refused), so they live at the scenario's layer; the
 * attempt records in record/ re-export them.
 */
export const ERROR_KINDS = ['refused', 'reset', 'handshake_timeout', 'expect_timeout', 'interrupted', 'lost', 'error'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];
