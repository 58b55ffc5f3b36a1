// The public API of beamstate's persistence layer; everything else in this folder is internal.
export { createStore } from './store.js';
export type { Store } from './store.js';
export { STORE_DEFAULTS } from './options.js';
export type {
  StoreOptions,
  StoreKind,
  CommonStoreOptions,
  SqlStoreOptions,
  PostgresStoreOptions,
  PGliteStoreOptions,
  PGliteInstance,
  PgPoolInstance,
  MemoryStoreOptions,
  GroupCommitSettings,
} from './options.js';
export type {
  Journal,
  AppendOptions,
  EventToAppend,
  PersistentEvent,
  AppendResult,
  ReplayOptions,
  ReplayResult,
  OrderingQuery,
  JournalStats,
} from './journal.js';
export type { GlobalOffset, GlobalEvent, GlobalQuery, GlobalBacklog } from './global-order.js';
export { START_OFFSET, compareOffsets } from './global-order.js';
export { tailJournal, TAIL_DEFAULTS } from './tail.js';
export { ProjectionOffsetConflictError } from './global-order-offsets.js';
export type { ProjectionQuery } from './global-order-offsets.js';
export type { Tail, TailOptions } from './tail.js';
export type { SnapshotStore, Snapshot, SnapshotCriteria, SnapshotMetadata, SaveSnapshotOptions } from './snapshot-store.js';
export type { DurableStateStore, DurableStateRecord, UpsertStateOptions, UpsertStateResult, DeleteStateOptions } from './durable-state-store.js';
export type { TimerStore, TimerChange, TimerWrites, ClaimedTimer, ClaimQuery, TimerKey, TimerInfo, DeadTimer } from './timer-store.js';
export type { Serializer } from './serializer.js';
export type { RecoveryReader, RecoveryData, RecoveryOptions } from './recovery.js';
export { RECOVERY_DEFAULTS } from './recovery.js';
export { msgpackSerializer } from './serializer.js';
export {
  JournalConflictError,
  DurableStateConflictError,
  StoreUnavailableError,
  WriteOutcomeUnknownError,
  AppendOutcomeUnknownError,
  DurableStateOutcomeUnknownError,
  SnapshotOutcomeUnknownError,
  StoreQueryError,
  StoreClosedError,
  StoreLockedError,
  PersistenceArgumentError,
  SerializationError,
  MigrationError,
} from './errors.js';
