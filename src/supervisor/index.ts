// The public API of supervision.
export { startSupervisor, startDynamicSupervisor, spawnSupervisor, spawnDynamicSupervisor } from './start.js';
export { rootSupervisor } from './root.js';
export { SupervisorHandle, SupervisorRef, DynamicSupervisorRef, supervisorOf } from './refs.js';
export type { ChildInfo, ChildCounts } from './refs.js';
export { childSpecDefaults, checkChildSpecs } from './child-spec.js';
export type {
  ChildSpec,
  ChildOptions,
  DynamicChildSpec,
  ChildStartContext,
  ChildStartResult,
  RestartType,
  ChildType,
  Shutdown,
} from './child-spec.js';
export { supervisorDefaults } from './flags.js';
export type { Strategy, AutoShutdown, RestartFlags, SupervisorFlags } from './flags.js';
export { checkSupervisorSpec } from './spec.js';
export type { SupervisorSpec, DynamicSupervisorSpec, SupervisorOptions } from './spec.js';
export { addRestart } from './intensity.js';
export type { RestartWindow } from './intensity.js';
export { backoffDelay, backoffDefaults } from './backoff.js';
export type { BackoffOptions, ResolvedBackoff } from './backoff.js';
export type { SupervisorReport, ProgressReport, SupervisorErrorContext, Offender } from './reports.js';
export {
  InvalidChildSpecError,
  InvalidSupervisorFlagsError,
  ChildStartError,
  AlreadyStartedError,
  AlreadyPresentError,
  ChildRunningError,
  ChildRestartingError,
  ChildNotFoundError,
  MaxChildrenError,
} from './errors.js';
