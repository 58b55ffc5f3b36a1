import type {
  AppendOptions,
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
import { encodeEvent, encodeEvents, type EncodedEvents } from '../encoded-events.js';
import { JournalConflictError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import { checkBound, checkNonNegativeInt, checkPersistenceId, checkPositiveInt, replayBounds } from '../validation.js';
import { ByteArena } from './byte-arena.js';
import { Float64Column, Int32Column, StringTable } from './columns.js';
import type { MemoryTimerStore } from './memory-timer-store.js';
import type { GlobalBacklog, GlobalEvent, GlobalOffset, GlobalQuery } from '../global-order.js';
import { BACKLOG_COUNT_LIMIT, formatOffset } from '../global-order.js';
import { globalQuery, type CheckedGlobalQuery } from '../global-query.js';

const NO_TAGS: readonly string[] = Object.freeze([]);

interface IdLog {
  highest: number;
  /** Events up to here were deleted (`deleteTo`); they are skipped on reads. */
  deletedTo: number;
  /** `orderings.get(seq - 1)`: where event `seq` of this id sits in the columns (its ordering - 1). */
  readonly orderings: Int32Column;
  /** The id's index in the string table (looked up once, not per event). */
  readonly name: number;
}

/**
 * The in-memory journal: plain JavaScript, no SQL. Each call runs to completion synchronously
 * inside its promise, which is what makes an append atomic here.
 *
 * Events are stored as columns (typed arrays indexed by ordering - 1, ids and types as indexes
 * into string tables) with their encoded bytes copied into an arena, rather than as an object
 * and a buffer view per event: a journal of millions of events then lies almost entirely outside
 * the JavaScript heap, and costs the garbage collector nothing to trace. Payloads stay encoded, so tests see the serializer
 * exactly as with SQL; reads decode from copies, so nothing a caller does to a decoded value can
 * reach the stored bytes.
 */
export class MemoryJournal implements Journal {
  readonly #serializer: Serializer;
  readonly #lifecycle: Lifecycle;
  readonly #ids = new Map<string, IdLog>();
  // The columns.
  readonly #names = new StringTable();
  readonly #pids = new Int32Column();
  readonly #seqs = new Float64Column();
  readonly #types = new Int32Column();
  readonly #timestamps = new Float64Column();
  /** Arena offset and length of the payload. */
  readonly #payloadAt = new Float64Column();
  readonly #payloadLength = new Int32Column();
  /** Index into `#metadataAt`/`#metadataLength` of the event's metadata, -1 when it has none (most events). */
  readonly #metadata = new Int32Column();
  /** Arena offset and length of each metadata stored, in order. */
  readonly #metadataAt = new Float64Column();
  readonly #metadataLength = new Int32Column();
  readonly #bytes = new ByteArena();
  /** Index into `#tagLists` of the event's tags, -1 when it has none (most events). */
  readonly #tagged = new Int32Column();
  readonly #tagLists: (readonly string[])[] = [];
  readonly #commitListeners = new Set<() => void>();
  #stats = { appends: 0, events: 0, conflicts: 0, batches: 0, largestBatch: 0 };

  readonly #timers: MemoryTimerStore | undefined;

  constructor(serializer: Serializer, lifecycle: Lifecycle, timers?: MemoryTimerStore) {
    this.#serializer = serializer;
    this.#lifecycle = lifecycle;
    this.#timers = timers;
  }

  async append(persistenceId: string, expectedSequenceNr: number, events: readonly EventToAppend[], options?: AppendOptions): Promise<AppendResult> {
    return this.appendNow(persistenceId, expectedSequenceNr, events, options);
  }

  /**
   * @internal `append`, done before it returns: the result, or the error thrown. For the entity
   * runtime, which writes to this journal without a promise and the hops after it (see
   * `appendsNow`); the append is the same synchronous step either way.
   */
  appendNow(persistenceId: string, expectedSequenceNr: number, events: readonly EventToAppend[], options?: AppendOptions): AppendResult {
    this.#lifecycle.check();
    let log = this.#ids.get(persistenceId);
    // An id with a log was checked when its first event was appended.
    if (log === undefined) checkPersistenceId(persistenceId);
    checkNonNegativeInt(expectedSequenceNr, 'expectedSequenceNr');
    // Encode everything first: a value the serializer rejects fails the append before anything
    // is stored. A lone event (the common case) skips the arrays of the general path.
    const single = Array.isArray(events) && events.length === 1 ? encodeEvent(this.#serializer, events[0], 0) : null;
    const encoded = single === null ? encodeEvents(this.#serializer, events) : null;
    const timers = options?.timers === undefined ? undefined : this.#timerStore().encode(options.timers);
    if ((log?.highest ?? 0) !== expectedSequenceNr) {
      this.#stats.conflicts++;
      throw new JournalConflictError(persistenceId, expectedSequenceNr);
    }
    if (log === undefined) {
      log = { highest: 0, deletedTo: 0, orderings: new Int32Column(8), name: this.#names.indexOf(persistenceId) };
      this.#ids.set(persistenceId, log);
    }
    const timestamp = Date.now();
    let count: number;
    if (single !== null) {
      this.#store(log, expectedSequenceNr + 1, single.type, single.payload, single.metadata, single.tags, timestamp);
      count = 1;
    } else {
      const e = encoded as EncodedEvents;
      for (let i = 0; i < e.count; i++) {
        this.#store(log, expectedSequenceNr + i + 1, e.types[i] as string, e.payloads[i] as Uint8Array, e.metadata[i] ?? null, e.tags[i] ?? null, timestamp);
      }
      count = e.count;
    }
    log.highest = expectedSequenceNr + count;
    if (timers !== undefined) this.#timerStore().applyNow(persistenceId, timers); // in the same synchronous step: atomic
    this.#stats.appends++;
    this.#stats.events += count;
    this.#stats.batches++;
    this.#stats.largestBatch = 1;
    if (this.#commitListeners.size > 0) this.#notifyCommit();
    return { persistenceId, firstSequenceNr: expectedSequenceNr + 1, highestSequenceNr: log.highest, timestamp };
  }

  #timerStore(): MemoryTimerStore {
    if (this.#timers === undefined) throw new TypeError('this journal has no timer store');
    return this.#timers;
  }

  #store(
    log: IdLog,
    sequenceNr: number,
    type: string,
    payload: Uint8Array,
    metadata: Uint8Array | null,
    tags: readonly string[] | null,
    timestamp: number,
  ): void {
    const bytes = this.#bytes;
    if (tags === null) this.#tagged.push(-1);
    else {
      this.#tagged.push(this.#tagLists.length);
      this.#tagLists.push(Object.freeze([...tags]));
    }
    log.orderings.push(this.#pids.length);
    this.#pids.push(log.name);
    this.#seqs.push(sequenceNr);
    this.#types.push(this.#names.indexOf(type));
    this.#timestamps.push(timestamp);
    this.#payloadAt.push(bytes.add(payload));
    this.#payloadLength.push(payload.byteLength);
    if (metadata === null) this.#metadata.push(-1);
    else {
      this.#metadata.push(this.#metadataAt.length);
      this.#metadataAt.push(bytes.add(metadata));
      this.#metadataLength.push(metadata.byteLength);
    }
  }

  /** Event `i`'s tags (ordering - 1). */
  #tagsOf(i: number): readonly string[] {
    const t = this.#tagged.get(i);
    return t < 0 ? NO_TAGS : (this.#tagLists[t] as readonly string[]);
  }

  async replay(persistenceId: string, options: ReplayOptions, onEvent: (event: PersistentEvent) => void): Promise<ReplayResult> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const { from, to, max } = replayBounds(options);
    const log = this.#ids.get(persistenceId);
    let count = 0;
    let lastSequenceNr = 0;
    if (log === undefined) return { count, lastSequenceNr };
    const last = Math.min(to, log.highest);
    for (let seq = Math.max(from, log.deletedTo + 1); seq <= last && count < max; seq++) {
      onEvent(this.#decode(log.orderings.get(seq - 1)));
      count++;
      lastSequenceNr = seq;
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
    const to = checkBound(toSequenceNr, 'toSequenceNr');
    const log = this.#ids.get(persistenceId);
    if (log === undefined) return;
    log.deletedTo = Math.max(log.deletedTo, Math.min(to, log.highest));
  }

  async readByOrdering(query?: OrderingQuery): Promise<PersistentEvent[]> {
    this.#lifecycle.check();
    const after = query?.afterOrdering === undefined ? 0 : checkNonNegativeInt(query.afterOrdering, 'query.afterOrdering');
    const max = query?.max === undefined ? 1000 : checkPositiveInt(query.max, 'query.max');
    const out: PersistentEvent[] = [];
    const n = this.#pids.length;
    for (let i = after; i < n && out.length < max; i++) {
      const log = this.#ids.get(this.#names.at(this.#pids.get(i))) as IdLog;
      if (this.#seqs.get(i) > log.deletedTo) out.push(this.#decode(i));
    }
    return out;
  }

  // The memory journal commits synchronously, one append at a time, so ordering is commit order:
  // an offset here is "<ordering>:<ordering>".
  eventsAfter(afterOffset: GlobalOffset, max?: number): Promise<GlobalEvent[]> {
    return this.readGlobal(max === undefined ? { afterOffset } : { afterOffset, max });
  }

  eventsByTag(tag: string, afterOffset: GlobalOffset, max?: number): Promise<GlobalEvent[]> {
    return this.readGlobal(max === undefined ? { afterOffset, tag } : { afterOffset, tag, max });
  }

  async readGlobal(query: GlobalQuery): Promise<GlobalEvent[]> {
    this.#lifecycle.check();
    const q = globalQuery(query);
    const out: GlobalEvent[] = [];
    const n = this.#pids.length;
    for (let i = q.after.ordering; i < n && out.length < q.max; i++) {
      if (!this.#matches(q, i)) continue;
      const e = this.#decode(i);
      out.push({ ...e, offset: formatOffset(i + 1, i + 1), tags: this.#tagsOf(i) });
    }
    return out;
  }

  async backlog(query: GlobalQuery): Promise<GlobalBacklog> {
    this.#lifecycle.check();
    const q = globalQuery(query);
    let events = 0;
    let oldestTimestamp: number | undefined;
    const n = this.#pids.length;
    for (let i = q.after.ordering; i < n && events < BACKLOG_COUNT_LIMIT; i++) {
      if (!this.#matches(q, i)) continue;
      events++;
      oldestTimestamp ??= this.#timestamps.get(i);
    }
    return { events, oldestTimestamp };
  }

  onCommit(listener: () => void): () => void {
    this.#commitListeners.add(listener);
    return () => {
      this.#commitListeners.delete(listener);
    };
  }

  #notifyCommit(): void {
    for (const listener of this.#commitListeners) {
      try {
        listener();
      } catch {
        // Only a hint that there is something to read.
      }
    }
  }

  /** Whether event `i` (ordering - 1) is not deleted and passes the query's filters. */
  #matches(q: CheckedGlobalQuery, i: number): boolean {
    const pid = this.#names.at(this.#pids.get(i));
    const log = this.#ids.get(pid) as IdLog;
    if (this.#seqs.get(i) <= log.deletedTo) return false;
    if (q.tag !== undefined && !this.#tagsOf(i).includes(q.tag)) return false;
    if (q.prefixes !== undefined && !q.prefixes.some((p) => pid.startsWith(p))) return false;
    return true;
  }

  stats(): JournalStats {
    return { ...this.#stats };
  }

  #decode(i: number): PersistentEvent {
    const persistenceId = this.#names.at(this.#pids.get(i));
    const sequenceNr = this.#seqs.get(i);
    const type = this.#names.at(this.#types.get(i));
    const bytes = this.#bytes;
    const payload = bytes.copy(this.#payloadAt.get(i), this.#payloadLength.get(i));
    const m = this.#metadata.get(i);
    return {
      persistenceId,
      sequenceNr,
      ordering: i + 1,
      type,
      payload: decodeValue(this.#serializer, payload, type, `event ${persistenceId}#${sequenceNr}`),
      metadata:
        m < 0
          ? undefined
          : (decodeValue(this.#serializer, bytes.copy(this.#metadataAt.get(m), this.#metadataLength.get(m)), '', `metadata of event ${persistenceId}#${sequenceNr}`) as Record<string, unknown>),
      timestamp: this.#timestamps.get(i),
    };
  }
}

const memoryAppend = MemoryJournal.prototype.append;

/**
 * @internal Whether `journal` is a memory journal whose `append` is its own, so that `appendNow`
 * does exactly what `append` would: not when `append` was replaced or wrapped (a test's fault
 * injection, a proxy), which only `append` itself would go through.
 */
export function appendsNow(journal: Journal): journal is MemoryJournal {
  return journal.append === memoryAppend && journal instanceof MemoryJournal;
}
