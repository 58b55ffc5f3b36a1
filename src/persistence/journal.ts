/**
 * The event journal: an append-only log of events per persistence id, numbered 1, 2, 3, … with
 * no gaps. Appends are optimistic: the writer says which sequence number it believes is the
 * highest, and the append fails with `JournalConflictError` if that is not so. That is how two
 * writers of one id get a conflict instead of a fork.
 */

import type { GlobalBacklog, GlobalEvent, GlobalOffset, GlobalQuery } from './global-order.js';

import type { TimerWrites } from './timer-store.js';

/** An event handed to `Journal.append`. */
export interface EventToAppend {
  /** The event itself; encoded with the store's serializer. */
  readonly payload: unknown;
  /** A type name stored beside the payload (a manifest), e.g. `'ItemAdded'`. Default `''`. */
  readonly type?: string;
  /** Free-form metadata stored beside the payload (correlation ids, …); encoded with the serializer. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /**
   * Tags for reading across ids (`eventsByTag`, projections by tag): at most 32 non-empty
   * strings of at most 256 characters, no control characters; duplicates are dropped.
   */
  readonly tags?: readonly string[];
}

/** An event as stored in, and replayed from, the journal. */
export interface PersistentEvent<P = unknown> {
  readonly persistenceId: string;
  /** 1-based, contiguous per persistence id. */
  readonly sequenceNr: number;
  /**
   * Global position across all persistence ids: strictly increasing along each id's sequence
   * numbers, and unique. Across ids it follows the order in which rows were inserted, which
   * with concurrent writers is not quite commit order, and it may have gaps: to follow every
   * event use `eventsAfter` and its `offset` (the gap-free global order), not this.
   */
  readonly ordering: number;
  readonly type: string;
  readonly payload: P;
  readonly metadata: Readonly<Record<string, unknown>> | undefined;
  /** When the event was written, milliseconds since the epoch (one value per commit). */
  readonly timestamp: number;
}

/** More to write with an append, in its transaction. */
export interface AppendOptions {
  /** Timer changes (durable timers), written only if the append is. */
  readonly timers?: TimerWrites;
}

/** What a successful append wrote. */
export interface AppendResult {
  readonly persistenceId: string;
  /** The first sequence number written: `expectedSequenceNr + 1`. */
  readonly firstSequenceNr: number;
  /** The last sequence number written, now the id's highest. */
  readonly highestSequenceNr: number;
  /** The events' timestamp, milliseconds since the epoch. */
  readonly timestamp: number;
}

/** Bounds of a replay; all inclusive, all optional. */
export interface ReplayOptions {
  /** First sequence number to deliver. Default 1. */
  readonly fromSequenceNr?: number;
  /** Last sequence number to deliver. Default: no bound (`Infinity` is accepted). */
  readonly toSequenceNr?: number;
  /** At most this many events. Default: no bound (`Infinity` is accepted). */
  readonly max?: number;
}

/** The outcome of a replay. */
export interface ReplayResult {
  /** Events delivered. */
  readonly count: number;
  /** Sequence number of the last event delivered, 0 if none was. */
  readonly lastSequenceNr: number;
}

/** A read across all persistence ids in global order. */
export interface OrderingQuery {
  /** Only events with an ordering greater than this. Default 0 (from the start). */
  readonly afterOrdering?: number;
  /** At most this many events. Default 1000. */
  readonly max?: number;
}

/** Counters for observing the journal's writer; cumulative since the store was created. */
export interface JournalStats {
  /** Appends that were acknowledged. */
  readonly appends: number;
  /** Events in acknowledged appends. */
  readonly events: number;
  /** Appends rejected with `JournalConflictError`. */
  readonly conflicts: number;
  /** Batches (statements, and so transactions) sent to the database; one per append in memory. */
  readonly batches: number;
  /** The most appends any single batch carried. */
  readonly largestBatch: number;
}

export interface Journal {
  /**
   * Appends `events` atomically after `expectedSequenceNr`, the highest sequence number the
   * writer believes exists (0 for a new id): all are written, numbered `expected + 1 …`, or none
   * are. Resolves only after the database committed. Rejects with `JournalConflictError` if the
   * highest is not `expectedSequenceNr`, `StoreUnavailableError` if the database could not be
   * reached (nothing written), `AppendOutcomeUnknownError` if the connection was lost during the
   * commit and the outcome could not be read back.
   */
  append(persistenceId: string, expectedSequenceNr: number, events: readonly EventToAppend[], options?: AppendOptions): Promise<AppendResult>;

  /**
   * Delivers the id's events within the bounds to `onEvent`, in sequence-number order. Deleted
   * events are skipped. If `onEvent` throws, the replay stops and rejects with that error.
   */
  replay(
    persistenceId: string,
    options: ReplayOptions,
    onEvent: (event: PersistentEvent) => void,
  ): Promise<ReplayResult>;

  /** Like `replay`, collecting the events into an array. */
  read(persistenceId: string, options?: ReplayOptions): Promise<PersistentEvent[]>;

  /** The highest sequence number ever written for the id (not reset by `deleteTo`); 0 if none. */
  highestSequenceNr(persistenceId: string): Promise<number>;

  /**
   * Deletes the id's events up to and including `toSequenceNr` (`Infinity`: all of them). The
   * highest sequence number is kept, so the next append still expects it.
   */
  deleteTo(persistenceId: string, toSequenceNr: number): Promise<void>;

  /**
   * Events of all ids with an ordering above `afterOrdering`, in ordering order. Not a tail: a
   * transaction that commits after a later ordering was read is skipped. Use `eventsAfter`.
   */
  readByOrdering(query?: OrderingQuery): Promise<PersistentEvent[]>;

  /**
   * Committed events of all ids after `afterOffset` in the gap-free global order (see
   * `GlobalOffset`), at most `max` (default 1000). Reading again after the last one's offset
   * never misses an event and never returns one twice, however transactions commit; each id's
   * events come in sequence order. An event becomes readable once every transaction that began
   * before its own has ended, so a long transaction anywhere in the database holds the tail back.
   */
  eventsAfter(afterOffset: GlobalOffset, max?: number): Promise<GlobalEvent[]>;

  /** Like `eventsAfter`, only the events carrying `tag`. */
  eventsByTag(tag: string, afterOffset: GlobalOffset, max?: number): Promise<GlobalEvent[]>;

  /** `eventsAfter` with filters (a tag, persistence-id prefixes). */
  readGlobal(query: GlobalQuery): Promise<GlobalEvent[]>;

  /** How many committed events match `query` after its offset, and how old the oldest is (for lag). */
  backlog(query: GlobalQuery): Promise<GlobalBacklog>;

  /**
   * Calls `listener` after each append this store commits (in this process), so a tail in the
   * same process can read at once instead of waiting for its next poll. Returns the unsubscribe.
   */
  onCommit(listener: () => void): () => void;

  /** The writer's counters. */
  stats(): JournalStats;
}
