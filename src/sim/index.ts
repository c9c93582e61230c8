/** The cold-start simulator's public API (`wsrace sim`). */
export { startSimulator, type SimHandle, type SimState, type Warm } from './server.js';
export { runSim, simCommand, type RunSimIo, type SimCommandArgs } from './command.js';
export {
  loadSimConfig,
  loadSimConfigFile,
  parseSimConfigText,
  parseSimCliArgs,
  resolveSimOptions,
  toSimOptions,
  simConfigSchema,
  SimConfigError,
  SIM_DEFAULTS,
  SIM_PROFILES,
  NEW_PROFILES,
  DRAIN_MODES,
  STRATEGIES,
  type NewProfile,
  type DrainMode,
  type Strategy,
  type StartupProfile,
  type SimOptions,
  type ResolvedSimOptions,
  type SimCliArgs,
  type SimProfile,
  type SimConfigInput,
} from './config.js';
export {
  computePlan,
  effectiveTimeout,
  phaseAt,
  missingComponents,
  formatSeconds,
  DEFAULT_PHASES,
  STAGING_TIMEOUT_POLICY,
  SEED_STAGING_PHASE_TIMEOUTS,
  BRIDGE_PHASE,
  COMPONENTS,
  type PhaseSpec,
  type TimeoutPolicy,
  type PlannedPhase,
  type StartupPlan,
} from './phases.js';
export { raceMarks, type Mark, type RaceMarks, type StartupFlags } from './startup.js';
export { decideUpgrade, notReadyReason, type UpgradeDecision } from './profiles.js';
export { healthBody } from './health.js';
export { AGENT_EVENTS } from './protocol.js';
export { formatTransition, formatCompleted, formatReady, formatFailed } from './log.js';
export { nowEpochMs, type ConnAction, type ConnRecord } from './truth.js';
export { warmDelay, type MessageAction, type MessageRecord, type DropReason } from './stream.js';
export { planRollout, shiftPlan, rolloutMarks, drainOffset, drainClose, type RolloutPlan, type DrainClose } from './rollout.js';
export { RolloutSimulator, ROLLOUT_PATH } from './rollout-server.js';
export { runSimProcesses, truthFileOf, processOptions, checkProcesses, MAX_SIM_PROCESSES, type SimCluster, type SimProcessSpec } from './processes.js';
export { clockOrigin } from './origin.js';
