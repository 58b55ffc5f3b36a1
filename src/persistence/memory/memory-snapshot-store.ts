import type { SaveSnapshotOptions, Snapshot, SnapshotCriteria, SnapshotMetadata, SnapshotStore } from '../snapshot-store.js';
import type { Serializer } from '../serializer.js';
import { decodeValue } from '../serializer.js';
import type { Lifecycle } from '../lifecycle.js';
import { encodeSnapshot } from '../encoded-writes.js';
import {
  checkNonNegativeInt,
  checkPersistenceId,
  criteriaBounds,
  matchesCriteria,
} from '../validation.js';

interface StoredSnapshot {
  readonly sequenceNr: number;
  readonly timestamp: number;
  readonly type: string;
  readonly payload: Uint8Array;
  readonly metadata: Uint8Array | null;
}

/**
 * The in-memory snapshot store: per id, snapshots kept sorted by sequence number. Like the
 * memory journal and the SQL stores, it keeps its own copy of the encoded bytes and decodes each
 * load from a fresh copy: msgpackr hands binary values back as views of the bytes it decodes, so
 * decoding the stored bytes themselves would let a caller who changes a loaded `Buffer` change
 * the snapshot.
 */
export class MemorySnapshotStore implements SnapshotStore {
  readonly #serializer: Serializer;
  readonly #lifecycle: Lifecycle;
  readonly #ids = new Map<string, StoredSnapshot[]>();

  constructor(serializer: Serializer, lifecycle: Lifecycle) {
    this.#serializer = serializer;
    this.#lifecycle = lifecycle;
  }

  async save(persistenceId: string, sequenceNr: number, snapshot: unknown, options?: SaveSnapshotOptions): Promise<SnapshotMetadata> {
    this.#lifecycle.check();
    const { type, timestamp, payload, metadata } = encodeSnapshot(this.#serializer, persistenceId, sequenceNr, snapshot, options);
    let list = this.#ids.get(persistenceId);
    if (list === undefined) {
      list = [];
      this.#ids.set(persistenceId, list);
    }
    const stored: StoredSnapshot = { sequenceNr, timestamp, type, payload: copy(payload), metadata: metadata === null ? null : copy(metadata) };
    const at = list.findIndex((s) => s.sequenceNr >= sequenceNr);
    if (at === -1) list.push(stored);
    else if ((list[at] as StoredSnapshot).sequenceNr === sequenceNr) list[at] = stored;
    else list.splice(at, 0, stored);
    return { persistenceId, sequenceNr, timestamp };
  }

  async loadLatest(persistenceId: string, criteria?: SnapshotCriteria): Promise<Snapshot | undefined> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const c = criteriaBounds(criteria);
    const list = this.#ids.get(persistenceId) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i] as StoredSnapshot;
      if (!matchesCriteria(c, s.sequenceNr, s.timestamp)) continue;
      const what = `snapshot ${persistenceId}#${s.sequenceNr}`;
      return {
        persistenceId,
        sequenceNr: s.sequenceNr,
        timestamp: s.timestamp,
        type: s.type,
        snapshot: decodeValue(this.#serializer, copy(s.payload), s.type, what),
        metadata:
          s.metadata === null
            ? undefined
            : (decodeValue(this.#serializer, copy(s.metadata), '', `metadata of ${what}`) as Record<string, unknown>),
      };
    }
    return undefined;
  }

  async delete(persistenceId: string, criteria: SnapshotCriteria): Promise<number> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const c = criteriaBounds(criteria);
    const list = this.#ids.get(persistenceId);
    if (list === undefined) return 0;
    const kept = list.filter((s) => !matchesCriteria(c, s.sequenceNr, s.timestamp));
    this.#ids.set(persistenceId, kept);
    return list.length - kept.length;
  }

  async keepLast(persistenceId: string, count: number): Promise<number> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    checkNonNegativeInt(count, 'count');
    const list = this.#ids.get(persistenceId);
    if (list === undefined || list.length <= count) return 0;
    const removed = list.length - count;
    list.splice(0, removed);
    return removed;
  }
}

/** A copy in a buffer of its own (not `Buffer#slice`, which is a view). */
function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
