// The public API of entities.
export { eventSourcedEntity, valueEntity, statelessFunction, EntityType, EventSourcedEntity, ValueEntity, StatelessFunction, entityDefaults } from './definition.js';
export type {
  EntitySettings,
  EntityRefs,
  HandlerContext,
  EventSourcedContext,
  ValueContext,
  StatelessContext,
  EventHandlers,
  EmitOptions,
} from './definition.js';
export { EffectBuilder } from './effect.js';
export type { Effect, BaseEffects, Failure, HandlerResult } from './effect.js';
export type { EntityRef, CommandSpec, CommandSpecs, CommandArgs } from './entity-ref.js';
export { EntityRuntime } from './runtime.js';
export type { EntityRuntimeOptions, EntityRuntimeStats, SubscribeOptions } from './runtime.js';
export type { EntityUpdate, Subscription } from './subscriptions.js';
export type { StandardSchemaV1, ValidationIssue } from './standard-schema.js';
export {
  CommandFailedError,
  InvalidCommandError,
  UnknownCommandError,
  UnknownEntityTypeError,
  InvalidEntityIdError,
  PoisonCommandError,
  EntityConflictError,
  PersistFailedError,
  RecoveryFailedError,
  EntityStoppedError,
  InvalidDefinitionError,
  ValidationTimeoutError,
  TooManyActiveEntitiesError,
} from './errors.js';
export { TimerService, timerDefaults } from './timers/timer-service.js';
export type { TimerServiceOptions, TimerStats } from './timers/timer-service.js';
export { InvalidTimerError, MAX_TIMER_NAME_LENGTH } from './timers/schedule.js';
export type { TimerWhen, TimerDelivery, TimerEffects } from './timers/schedule.js';
export { PROJECTION_DEFAULTS } from './projection.js';
export type {
  Projection,
  ProjectionOptions,
  ExactlyOnceProjectionOptions,
  AtLeastOnceProjectionOptions,
  ProjectionSource,
  ProjectionContext,
  TransactionalProjectionContext,
  ProjectionStats,
  ProjectionLag,
} from './projection.js';
