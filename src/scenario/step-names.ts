import type { Scenario } from './schema.js';

type Step = NonNullable<Scenario['session']['steps']>[number];

/** The name an expect or ping step reports under (summary.json `steps.<name>`), or null for other steps. */
export function stepName(step: Step, i: number): string | null {
  if ('expect' in step) return step.expect.name ?? `expect-${i + 1}`;
  if ('ping' in step) return step.ping.name ?? `ping-${i + 1}`;
  return null;
}
