import { getCurrentTest } from 'vitest/suite';

/** Used outside a running test (a beforeAll), where vitest's hookTimeout (30 s) applies. */
const OUTSIDE_A_TEST_MS = 25_000;

/**
 * What is left of the running test's own timeout (vitest.config.ts, or the one the test gives),
 * less `marginMs` for the test to say what it was waiting for. A wait inside a test bounded by
 * this ends before vitest's timeout does, with its own message.
 */
export function timeLeft(marginMs = 3000): number {
  const test = getCurrentTest();
  const started = test?.result?.startTime;
  if (!test || started === undefined) return OUTSIDE_A_TEST_MS;
  return Math.max(1000, test.timeout - (Date.now() - started) - marginMs);
}
