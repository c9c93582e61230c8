/** wsrace's library API: everything the CLI does, callable from code and tests. */
export { loadScenarioFile, parseScenarioText, type LoadedScenario, type ScenarioOverrides } from './scenario/load.js';
export { scenarioSchema, type Scenario } from './scenario/schema.js';
export { InputError } from './scenario/errors.js';
export { RunError } from './run/errors.js';
export { runScenario, type RunOptions, type RunResult, type Progress } from './run/run.js';
export { RECORDER_NODE_FLAGS, recorderNodeFlags } from './run/node-flags.js';
export { scheduleOffsets, scheduledCount, scheduleDurationMs, type Stage } from './schedule/arrival.js';
export { stripeIndices } from './schedule/stripe.js';
export { parseThreshold } from './scenario/thresholds.js';
export { evaluateThresholds } from './report/thresholds.js';
export { buildSummary, type Summary } from './report/summary.js';
export { renderSummary } from './report/console.js';
