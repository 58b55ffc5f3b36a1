import type { DeleteStateOptions, DurableStateRecord, DurableStateStore, UpsertStateOptions, UpsertStateResult } from '../durable-state-store.js';
import type { MemoryTimerStore } from './memory-timer-store.js';
import type { Serializer } from '../serializer.js';
import { decodeValue } from '../serializer.js';
import { DurableStateConflictError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import { encodeState } from '../encoded-writes.js';
import { checkNonNegativeInt, checkPersistenceId } from '../validation.js';

interface StoredState {
  readonly revision: number;
  readonly type: string;
  readonly payload: Uint8Array;
  readonly timestamp: number;
}

/**
 * The in-memory durable-state store: a map from id to its current encoded value. It keeps its own
 * copy of the bytes and decodes each read from a fresh copy, so a value it hands out (a `Buffer`
 * in it, which msgpackr returns as a view of the bytes it decoded) never aliases what it holds.
 */
export class MemoryDurableStateStore implements DurableStateStore {
  readonly #serializer: Serializer;
  readonly #lifecycle: Lifecycle;
  readonly #ids = new Map<string, StoredState>();
  readonly #timers: MemoryTimerStore | undefined;

  constructor(serializer: Serializer, lifecycle: Lifecycle, timers?: MemoryTimerStore) {
    this.#serializer = serializer;
    this.#lifecycle = lifecycle;
    this.#timers = timers;
  }

  async get(persistenceId: string): Promise<DurableStateRecord | undefined> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const s = this.#ids.get(persistenceId);
    if (s === undefined) return undefined;
    return {
      persistenceId,
      revision: s.revision,
      type: s.type,
      value: decodeValue(this.#serializer, new Uint8Array(s.payload), s.type, `durable state ${persistenceId}`),
      timestamp: s.timestamp,
    };
  }

  async upsert(persistenceId: string, expectedRevision: number, value: unknown, options?: UpsertStateOptions): Promise<UpsertStateResult> {
    this.#lifecycle.check();
    const { type, payload } = encodeState(this.#serializer, persistenceId, expectedRevision, value, options);
    const timers = options?.timers === undefined ? undefined : this.#timerStore().encode(options.timers);
    const current = this.#ids.get(persistenceId)?.revision ?? 0;
    if (current !== expectedRevision) throw new DurableStateConflictError(persistenceId, expectedRevision);
    const timestamp = Date.now();
    this.#ids.set(persistenceId, { revision: expectedRevision + 1, type, payload: new Uint8Array(payload), timestamp });
    if (timers !== undefined) this.#timerStore().applyNow(persistenceId, timers);
    return { revision: expectedRevision + 1, timestamp };
  }

  async delete(persistenceId: string, expectedRevision?: number, options?: DeleteStateOptions): Promise<boolean> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const timers = options?.timers === undefined ? undefined : this.#timerStore().encode(options.timers);
    if (expectedRevision !== undefined) {
      checkNonNegativeInt(expectedRevision, 'expectedRevision');
      const current = this.#ids.get(persistenceId)?.revision ?? 0;
      if (current !== expectedRevision) throw new DurableStateConflictError(persistenceId, expectedRevision);
    }
    const deleted = this.#ids.delete(persistenceId);
    if (timers !== undefined) this.#timerStore().applyNow(persistenceId, timers);
    return deleted;
  }

  #timerStore(): MemoryTimerStore {
    if (this.#timers === undefined) throw new TypeError('this durable-state store has no timer store');
    return this.#timers;
  }
}
