import type {
  AppendResult,
  EventToAppend,
  Journal,
  JournalStats,
  OrderingQuery,
  PersistentEvent,
  ReplayOptions,
  ReplayResult,
} from '../journal.js';
import type { Serializer } from '../serializer.js';
import { decodeValue } from '../serializer.js';
import { encodeEvents } from '../encoded-events.js';
import { JournalConflictError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import { checkBound, checkNonNegativeInt, checkPersistenceId, checkPositiveInt, replayBounds } from '../validation.js';

/** One stored event. Payloads are kept encoded, so tests see the serializer exactly as in SQL. */
interface StoredEvent {
  readonly persistenceId: string;
  readonly sequenceNr: number;
  readonly ordering: number;
  readonly type: string;
  readonly payload: Uint8Array;
  readonly metadata: Uint8Array | null;
  readonly timestamp: number;
  deleted: boolean;
}

interface IdLog {
  highest: number;
  /** Live events, ascending and contiguous: `events[0]` is `deletedTo + 1`. */
  events: StoredEvent[];
}

/**
 * The in-memory journal: plain maps, no SQL. Each call runs to completion synchronously inside
 * its promise, which is what makes an append atomic here.
 */
export class MemoryJournal implements Journal {
  readonly #serializer: Serializer;
  readonly #lifecycle: Lifecycle;
  readonly #ids = new Map<string, IdLog>();
  /** Every event ever written, indexed by `ordering - 1`; deleted ones are flagged. */
  readonly #all: StoredEvent[] = [];
  #stats = { appends: 0, events: 0, conflicts: 0, batches: 0, largestBatch: 0 };

  constructor(serializer: Serializer, lifecycle: Lifecycle) {
    this.#serializer = serializer;
    this.#lifecycle = lifecycle;
  }

  async append(persistenceId: string, expectedSequenceNr: number, events: readonly EventToAppend[]): Promise<AppendResult> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    checkNonNegativeInt(expectedSequenceNr, 'expectedSequenceNr');
    const encoded = encodeEvents(this.#serializer, events);
    let log = this.#ids.get(persistenceId);
    if ((log?.highest ?? 0) !== expectedSequenceNr) {
      this.#stats.conflicts++;
      throw new JournalConflictError(persistenceId, expectedSequenceNr);
    }
    if (log === undefined) {
      log = { highest: 0, events: [] };
      this.#ids.set(persistenceId, log);
    }
    const timestamp = Date.now();
    for (let i = 0; i < encoded.count; i++) {
      const stored: StoredEvent = {
        persistenceId,
        sequenceNr: expectedSequenceNr + i + 1,
        ordering: this.#all.length + 1,
        type: encoded.types[i] as string,
        payload: encoded.payloads[i] as Uint8Array,
        metadata: encoded.metadata[i] ?? null,
        timestamp,
        deleted: false,
      };
      this.#all.push(stored);
      log.events.push(stored);
    }
    log.highest = expectedSequenceNr + encoded.count;
    this.#stats.appends++;
    this.#stats.events += encoded.count;
    this.#stats.batches++;
    this.#stats.largestBatch = 1;
    return { persistenceId, firstSequenceNr: expectedSequenceNr + 1, highestSequenceNr: log.highest, timestamp };
  }

  async replay(persistenceId: string, options: ReplayOptions, onEvent: (event: PersistentEvent) => void): Promise<ReplayResult> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const { from, to, max } = replayBounds(options);
    const events = this.#ids.get(persistenceId)?.events;
    let count = 0;
    let lastSequenceNr = 0;
    if (events === undefined || events.length === 0) return { count, lastSequenceNr };
    const first = (events[0] as StoredEvent).sequenceNr;
    for (let i = Math.max(0, from - first); i < events.length && count < max; i++) {
      const stored = events[i] as StoredEvent;
      if (stored.sequenceNr > to) break;
      onEvent(this.#decode(stored));
      count++;
      lastSequenceNr = stored.sequenceNr;
    }
    return { count, lastSequenceNr };
  }

  async read(persistenceId: string, options?: ReplayOptions): Promise<PersistentEvent[]> {
    const out: PersistentEvent[] = [];
    await this.replay(persistenceId, options ?? {}, (e) => out.push(e));
    return out;
  }

  async highestSequenceNr(persistenceId: string): Promise<number> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    return this.#ids.get(persistenceId)?.highest ?? 0;
  }

  async deleteTo(persistenceId: string, toSequenceNr: number): Promise<void> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    checkBound(toSequenceNr, 'toSequenceNr');
    const log = this.#ids.get(persistenceId);
    if (log === undefined) return;
    let n = 0;
    while (n < log.events.length && (log.events[n] as StoredEvent).sequenceNr <= toSequenceNr) {
      (log.events[n] as StoredEvent).deleted = true;
      n++;
    }
    if (n > 0) log.events.splice(0, n);
  }

  async readByOrdering(query?: OrderingQuery): Promise<PersistentEvent[]> {
    this.#lifecycle.check();
    const after = query?.afterOrdering === undefined ? 0 : checkNonNegativeInt(query.afterOrdering, 'query.afterOrdering');
    const max = query?.max === undefined ? 1000 : checkPositiveInt(query.max, 'query.max');
    const out: PersistentEvent[] = [];
    for (let i = after; i < this.#all.length && out.length < max; i++) {
      const stored = this.#all[i] as StoredEvent;
      if (!stored.deleted) out.push(this.#decode(stored));
    }
    return out;
  }

  stats(): JournalStats {
    return { ...this.#stats };
  }

  #decode(stored: StoredEvent): PersistentEvent {
    const what = `event ${stored.persistenceId}#${stored.sequenceNr}`;
    return {
      persistenceId: stored.persistenceId,
      sequenceNr: stored.sequenceNr,
      ordering: stored.ordering,
      type: stored.type,
      payload: decodeValue(this.#serializer, stored.payload, stored.type, what),
      metadata:
        stored.metadata === null
          ? undefined
          : (decodeValue(this.#serializer, stored.metadata, '', `metadata of ${what}`) as Record<string, unknown>),
      timestamp: stored.timestamp,
    };
  }
}
