// The public API of the actor core.
export { ActorSystem, createActorSystem, actorSystemDefaults } from './system.js';
export type { ActorSystemOptions, Cancellable } from './system.js';
export type { Behavior, ActorContext, SpawnOptions } from './behavior.js';
export { Context } from './context.js';
export { IGNORE } from './ref.js';
export type {
  ActorRef,
  AskOptions,
  ReplyTo,
  ExitMessage,
  DownMessage,
  MonitorRef,
  Timers,
  MailboxOptions,
  OverflowPolicy,
  Ignore,
} from './ref.js';
export type { ExitReason, ExitSignalReason, ShutdownWith } from './exit-reason.js';
export { isNormalExit, isShutdownWith, formatReason } from './exit-reason.js';
export { ManualClock, systemClock, systemTimeOf } from './clock.js';
export type { Clock, ManualClockOptions, TimerHandle } from './clock.js';
export { LocalRegistry } from './registry.js';
export type { Registry } from './registry.js';
export { EventStream } from './inspection.js';
export type {
  InspectionEvent,
  InspectionEventType,
  InspectionListener,
  ActorEvent,
  SupervisorEvent,
  EntityEvent,
  Unsubscribe,
} from './inspection.js';
export type { MessagePassing } from './messages.js';
export type { SchedulerOptions } from './scheduler.js';
export {
  NoProcError,
  ActorExitedError,
  AskTimeoutError,
  AskAbortedError,
  MailboxFullError,
  StashOverflowError,
  NameTakenError,
  ActorCrashError,
  ActorInitError,
  SystemStoppedError,
  InvalidOptionError,
} from './errors.js';
export type { ActorLabel } from './errors.js';
