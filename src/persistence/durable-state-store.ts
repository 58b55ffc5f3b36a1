import type { TimerWrites } from './timer-store.js';

/**
 * The durable-state store, for value entities: one current value per persistence id with a
 * revision that each write increments. Writes are compare-and-set on the revision.
 */

/** The stored value of an id. */
export interface DurableStateRecord<S = unknown> {
  readonly persistenceId: string;
  /** 1 after the first write, incremented by each write. */
  readonly revision: number;
  readonly type: string;
  readonly value: S;
  /** When the revision was written, milliseconds since the epoch. */
  readonly timestamp: number;
}

export interface UpsertStateOptions {
  /** A type name stored beside the value. Default `''`. */
  readonly type?: string;
  /** Timer changes written in the same transaction (only if the write wins its compare-and-set). */
  readonly timers?: TimerWrites;
}

export interface DeleteStateOptions {
  /** Timer changes written in the same transaction (only if the delete happens). */
  readonly timers?: TimerWrites;
}

/** What a successful write stored. */
export interface UpsertStateResult {
  readonly revision: number;
  readonly timestamp: number;
}

export interface DurableStateStore {
  /** The id's current value, or `undefined` if it has none. */
  get(persistenceId: string): Promise<DurableStateRecord | undefined>;

  /**
   * Stores `value` as revision `expectedRevision + 1` if the current revision is
   * `expectedRevision` (0: the id has no value yet); otherwise rejects with
   * `DurableStateConflictError` and writes nothing.
   */
  upsert(persistenceId: string, expectedRevision: number, value: unknown, options?: UpsertStateOptions): Promise<UpsertStateResult>;

  /**
   * Deletes the id's value; with `expectedRevision`, only if the current revision is that
   * (otherwise `DurableStateConflictError`). Resolves to whether a value was deleted. After a
   * delete the id has no value, and the next write expects revision 0.
   */
  delete(persistenceId: string, expectedRevision?: number, options?: DeleteStateOptions): Promise<boolean>;
}
