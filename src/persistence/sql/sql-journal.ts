import { randomUUID } from 'node:crypto';
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
import { encodeEvents } from '../encoded-events.js';
import type { Lifecycle } from '../lifecycle.js';
import type { BatchOutcome, GroupCommitOptions, PendingAppend } from '../group-commit.js';
import { GroupCommitWriter } from '../group-commit.js';
import { AppendOutcomeUnknownError, JournalConflictError, StoreQueryError } from '../errors.js';
import { checkBound, checkNonNegativeInt, checkPersistenceId, checkPositiveInt, replayBounds } from '../validation.js';
import type { SqlDriver, SqlResult } from './driver.js';
import { WriteOutcomeUnknown } from './driver.js';
import { textArrayLiteral } from './array-literals.js';
import type { Tables } from './tables.js';
import { APPEND_PARAM_COUNT, appendParams, appendStatement, interpretReadBack, readBackBatch } from './append-batch.js';
import type { GlobalBacklog, GlobalEvent, GlobalOffset, GlobalQuery } from '../global-order.js';
import { BACKLOG_COUNT_LIMIT, formatOffset } from '../global-order.js';
import { globalQuery, type CheckedGlobalQuery } from '../global-query.js';
import type { WriteFence } from './write-fence.js';
import { encodeTimerWrites } from '../encoded-timers.js';
import { appendStatementWithTimers, batchTimerParams } from './timer-writes.js';

export interface SqlJournalOptions {
  readonly driver: SqlDriver;
  readonly tables: Tables;
  readonly serializer: Serializer;
  readonly lifecycle: Lifecycle;
  readonly groupCommit: GroupCommitOptions;
  /** Rows fetched per replay query. */
  readonly replayChunkSize: number;
  /** @internal Checked in every append's statement (the cluster's shard fencing). */
  readonly fence?: WriteFence;
}

const EVENT_COLUMNS = 'sequence_nr, ordering, event_type, payload, metadata, written_at';

/**
 * The global order's filter: after the offset, and below the oldest transaction still running
 * (every transaction with a smaller id has committed or rolled back, so no row can appear there
 * any more). The row comparison is served by the (tx_id, ordering) index.
 */
const AFTER_OFFSET = `(tx_id, ordering) > ($1::text::xid8, $2::int8)`;
const BELOW_HORIZON = `tx_id < pg_snapshot_xmin(pg_current_snapshot())`;

const BACKLOG_LIMIT = BACKLOG_COUNT_LIMIT;
const NO_TAGS: readonly string[] = Object.freeze([]);

function shapeOf(q: CheckedGlobalQuery): string {
  return `${q.tag === undefined ? 'a' : 't'}${q.prefixes === undefined ? 'a' : 'p'}`;
}

/** @internal The journal on PostgreSQL or PGlite, with appends through the group-commit writer. */
export class SqlJournal implements Journal {
  readonly #driver: SqlDriver;
  readonly #t: Tables;
  readonly #serializer: Serializer;
  readonly #lifecycle: Lifecycle;
  readonly #writer: GroupCommitWriter;
  readonly #chunk: number;
  readonly #fence: WriteFence | undefined;
  readonly #sql: {
    readonly append: string;
    readonly replay: string;
    readonly highest: string;
    readonly deleteTo: string;
    readonly byOrdering: string;
  };
  readonly #names: { readonly append: string; readonly replay: string; readonly highest: string };
  /** The append statement with timer writes, by the number of its first timer parameter. */
  readonly #timerSql = new Map<number, string>();
  /** Global-read statements by filter shape (tag?, prefixes?): four at most. */
  readonly #globalSql = new Map<string, { text: string; name: string }>();
  readonly #backlogSql = new Map<string, string>();
  readonly #commitListeners = new Set<() => void>();

  constructor(options: SqlJournalOptions) {
    this.#driver = options.driver;
    this.#t = options.tables;
    this.#serializer = options.serializer;
    this.#lifecycle = options.lifecycle;
    this.#chunk = options.replayChunkSize;
    this.#fence = options.fence;
    this.#writer = new GroupCommitWriter((batch) => this.#runBatch(batch), options.groupCommit);
    const t = this.#t;
    this.#sql = {
      append: appendStatement(t, options.fence),
      replay: `SELECT ${EVENT_COLUMNS} FROM ${t.journal}
        WHERE persistence_id = $1 AND sequence_nr >= $2 AND sequence_nr <= $3
        ORDER BY sequence_nr LIMIT $4`,
      highest: `SELECT highest_sequence_nr FROM ${t.journalMeta} WHERE persistence_id = $1`,
      deleteTo: `DELETE FROM ${t.journal} WHERE persistence_id = $1 AND sequence_nr <= $2`,
      byOrdering: `SELECT persistence_id, ${EVENT_COLUMNS} FROM ${t.journal}
        WHERE ordering > $1 ORDER BY ordering LIMIT $2`,
    };
    // Prepared-statement names are per connection and per text: the tag keeps stores on other
    // schemas or prefixes that share a pool from colliding.
    this.#names = { append: `bs_${t.tag}_append`, replay: `bs_${t.tag}_replay`, highest: `bs_${t.tag}_highest` };
  }

  // Not `async`: on the hot path the writer's promise is returned as is, without another
  // promise wrapped around it (and the extra microtask hops that costs).
  append(persistenceId: string, expectedSequenceNr: number, events: readonly EventToAppend[], options?: AppendOptions): Promise<AppendResult> {
    let encoded;
    let timers;
    try {
      this.#lifecycle.check();
      checkPersistenceId(persistenceId);
      checkNonNegativeInt(expectedSequenceNr, 'expectedSequenceNr');
      encoded = encodeEvents(this.#serializer, events);
      if (options?.timers !== undefined) timers = encodeTimerWrites(this.#serializer, options.timers);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#writer.submit(persistenceId, expectedSequenceNr, encoded, timers);
  }

  async replay(persistenceId: string, options: ReplayOptions, onEvent: (event: PersistentEvent) => void): Promise<ReplayResult> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const { from, to, max } = replayBounds(options);
    let count = 0;
    let lastSequenceNr = 0;
    if (max === 0 || from > to) return { count, lastSequenceNr };
    const fetch = (fromNr: number, limit: number): Promise<SqlResult> =>
      this.#driver.query(this.#sql.replay, [persistenceId, fromNr, to, limit], this.#names.replay);
    let limit = Math.min(this.#chunk, max);
    let pending: Promise<SqlResult> | undefined = fetch(from, limit);
    while (pending !== undefined) {
      const { rows } = await pending;
      pending = undefined;
      const n = rows.length;
      if (n === 0) break;
      const nextFrom = Number((rows[n - 1] as unknown[])[0]) + 1;
      const remaining = max - count - n;
      // Ask for the next chunk before decoding this one, so the database works while we decode.
      if (n === limit && remaining > 0 && nextFrom <= to) {
        limit = Math.min(this.#chunk, remaining);
        pending = fetch(nextFrom, limit);
        pending.catch(() => {}); // observed below; if onEvent throws first it must not go unhandled
      }
      for (let i = 0; i < n; i++) {
        const event = this.#decodeRow(persistenceId, rows[i] as unknown[], 0);
        onEvent(event);
        lastSequenceNr = event.sequenceNr;
      }
      count += n;
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
    const r = await this.#driver.query(this.#sql.highest, [persistenceId], this.#names.highest);
    const row = r.rows[0];
    return row === undefined ? 0 : Number(row[0]);
  }

  async deleteTo(persistenceId: string, toSequenceNr: number): Promise<void> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const to = checkBound(toSequenceNr, 'toSequenceNr');
    await this.#driver.query(this.#sql.deleteTo, [persistenceId, to]);
  }

  async readByOrdering(query?: OrderingQuery): Promise<PersistentEvent[]> {
    this.#lifecycle.check();
    const after = query?.afterOrdering === undefined ? 0 : checkNonNegativeInt(query.afterOrdering, 'query.afterOrdering');
    const max = query?.max === undefined ? 1000 : checkPositiveInt(query.max, 'query.max');
    const r = await this.#driver.query(this.#sql.byOrdering, [after, max]);
    return r.rows.map((row) => this.#decodeRow(row[0] as string, row, 1));
  }

  eventsAfter(afterOffset: GlobalOffset, max?: number): Promise<GlobalEvent[]> {
    return this.readGlobal(max === undefined ? { afterOffset } : { afterOffset, max });
  }

  eventsByTag(tag: string, afterOffset: GlobalOffset, max?: number): Promise<GlobalEvent[]> {
    return this.readGlobal(max === undefined ? { afterOffset, tag } : { afterOffset, tag, max });
  }

  async readGlobal(query: GlobalQuery): Promise<GlobalEvent[]> {
    this.#lifecycle.check();
    const q = globalQuery(query);
    const { text, name } = this.#globalStatement(q);
    const r = await this.#driver.query(text, this.#globalParams(q, [q.after.tx, q.after.ordering, q.max]), name);
    const rows = r.rows;
    const out = new Array<GlobalEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = this.#decodeGlobal(rows[i] as unknown[]);
    return out;
  }

  async backlog(query: GlobalQuery): Promise<GlobalBacklog> {
    this.#lifecycle.check();
    const q = globalQuery(query);
    const key = shapeOf(q);
    let text = this.#backlogSql.get(key);
    if (text === undefined) {
      text = `SELECT count(*), min(written_at) FROM (SELECT written_at FROM ${this.#t.journal}
        WHERE ${AFTER_OFFSET}${this.#filters(q, 4)} LIMIT $3) b`;
      this.#backlogSql.set(key, text);
    }
    const r = await this.#driver.query(text, this.#globalParams(q, [q.after.tx, q.after.ordering, BACKLOG_LIMIT]));
    const row = r.rows[0] as unknown[];
    return { events: Number(row[0]), oldestTimestamp: row[1] === null ? undefined : Number(row[1]) };
  }

  onCommit(listener: () => void): () => void {
    this.#commitListeners.add(listener);
    return () => {
      this.#commitListeners.delete(listener);
    };
  }

  #globalStatement(q: CheckedGlobalQuery): { text: string; name: string } {
    const key = shapeOf(q);
    let s = this.#globalSql.get(key);
    if (s === undefined) {
      // tx_id goes out as text under another name: ORDER BY a bare name means the output column
      // first, and an output column called tx_id would sort the ids as text ("1000" < "754").
      s = {
        text: `SELECT persistence_id, ${EVENT_COLUMNS}, tx_id::text AS tx_text, tags FROM ${this.#t.journal}
        WHERE ${AFTER_OFFSET} AND ${BELOW_HORIZON}${this.#filters(q, 4)}
        ORDER BY tx_id, ordering LIMIT $3`,
        name: `bs_${this.#t.tag}_global_${key}`,
      };
      this.#globalSql.set(key, s);
    }
    return s;
  }

  /** The tag and prefix conditions, numbered from `$first`. */
  #filters(q: CheckedGlobalQuery, first: number): string {
    let sql = '';
    let n = first;
    if (q.tag !== undefined) sql += ` AND tags IS NOT NULL AND tags @> ARRAY[$${n++}::text]`;
    if (q.prefixes !== undefined) sql += ` AND EXISTS (SELECT 1 FROM unnest($${n++}::text[]) p WHERE starts_with(persistence_id, p))`;
    return sql;
  }

  #globalParams(q: CheckedGlobalQuery, head: unknown[]): unknown[] {
    // xid8 travels as text: it is a 64-bit unsigned type that has no cast from int8.
    head[0] = String(head[0]);
    if (q.tag !== undefined) head.push(q.tag);
    if (q.prefixes !== undefined) head.push(textArrayLiteral(q.prefixes));
    return head;
  }

  stats(): JournalStats {
    return this.#writer.stats();
  }

  /** Waits for queued and running appends to settle (used by close). */
  drain(): Promise<void> {
    return this.#writer.drain();
  }

  #decodeRow(persistenceId: string, row: unknown[], at: number): PersistentEvent {
    const sequenceNr = Number(row[at]);
    const type = row[at + 2] as string;
    const metadata = row[at + 4] as Uint8Array | null;
    const what = `event ${persistenceId}#${sequenceNr}`;
    return {
      persistenceId,
      sequenceNr,
      ordering: Number(row[at + 1]),
      type,
      payload: decodeValue(this.#serializer, row[at + 3] as Uint8Array, type, what),
      metadata:
        metadata === null ? undefined : (decodeValue(this.#serializer, metadata, '', `metadata of ${what}`) as Record<string, unknown>),
      timestamp: Number(row[at + 5]),
    };
  }

  #decodeGlobal(row: unknown[]): GlobalEvent {
    const persistenceId = row[0] as string;
    const sequenceNr = Number(row[1]);
    const ordering = Number(row[2]);
    const type = row[3] as string;
    const metadata = row[5] as Uint8Array | null;
    const what = `event ${persistenceId}#${sequenceNr}`;
    return {
      persistenceId,
      sequenceNr,
      ordering,
      type,
      payload: decodeValue(this.#serializer, row[4] as Uint8Array, type, what),
      metadata:
        metadata === null ? undefined : (decodeValue(this.#serializer, metadata, '', `metadata of ${what}`) as Record<string, unknown>),
      timestamp: Number(row[6]),
      offset: formatOffset(Number(row[7]), ordering),
      tags: (row[8] as string[] | null) ?? NO_TAGS,
    };
  }

  async #runBatch(batch: readonly PendingAppend[]): Promise<BatchOutcome> {
    const outcome = await this.#runBatchOnce(batch);
    if (this.#commitListeners.size > 0) this.#notifyCommit();
    return outcome;
  }

  #notifyCommit(): void {
    for (const listener of this.#commitListeners) {
      try {
        listener();
      } catch {
        // A listener only hints that there is something to read; its failure is not the append's.
      }
    }
  }

  async #runBatchOnce(batch: readonly PendingAppend[]): Promise<BatchOutcome> {
    const timestamp = Date.now();
    try {
      return await this.#runOnce(batch, timestamp);
    } catch (err) {
      // The database rejected the statement itself (nothing was written). Rather than fail every
      // append for what may be one bad value, run each append on its own.
      if (!(err instanceof StoreQueryError) || batch.length === 1) throw err;
      const failed = new Map<number, Error>();
      await Promise.all(
        batch.map(async (p, i) => {
          try {
            const one = await this.#runOnce([p], timestamp);
            const f = one.failed?.get(0);
            if (f !== undefined) failed.set(i, f);
          } catch (e) {
            failed.set(i, e instanceof Error ? e : new Error(String(e)));
          }
        }),
      );
      return { timestamp, failed };
    }
  }

  async #runOnce(batch: readonly PendingAppend[], timestamp: number): Promise<BatchOutcome> {
    const batchId = randomUUID();
    const params = appendParams(batch, timestamp, batchId);
    const fence = this.#fence;
    let tokens: (readonly [number, number] | null)[] | undefined;
    if (fence !== undefined) {
      // Taken now, as the statement is built: an append this process may no longer write fails
      // here, before any SQL, and the rest of the batch goes on.
      const refusedEarly = new Map<number, Error>();
      tokens = batch.map((p, i) => {
        try {
          return fence.token(p.persistenceId);
        } catch (err) {
          refusedEarly.set(i, err instanceof Error ? err : new Error(String(err)));
          return null;
        }
      });
      if (refusedEarly.size > 0) {
        const rest = batch.filter((_, i) => !refusedEarly.has(i));
        if (rest.length === 0) return { timestamp, failed: refusedEarly };
        const restIndex = batch.map((_, i) => i).filter((i) => !refusedEarly.has(i));
        const out = await this.#runOnce(rest, timestamp);
        const failed = new Map(refusedEarly);
        for (const [k, e] of out.failed ?? []) failed.set(restIndex[k] as number, e);
        return { timestamp, failed };
      }
      // The fence's parameters follow appendParams' own, at the positions appendStatement names.
      params.length = APPEND_PARAM_COUNT;
      params.push(intArrayLiteralOrNull(tokens.map((x) => (x === null ? null : x[0]))), intArrayLiteralOrNull(tokens.map((x) => (x === null ? null : x[1]))));
    }
    // Durable timers scheduled by these appends' commands join the statement (timer-writes.ts).
    let text = this.#sql.append;
    let name = this.#names.append;
    const timerParams = batchTimerParams(batch, timestamp);
    if (timerParams !== undefined) {
      const first = params.length + 1;
      text = this.#timerSql.get(first) ?? appendStatementWithTimers(text, this.#t, first);
      this.#timerSql.set(first, text);
      name = `${name}_timers_${first}`;
      params.push(...timerParams);
    }
    let out;
    try {
      out = await this.#driver.write(text, params, name, (query) =>
        readBackBatch(query, this.#t, batch, batchId),
      );
    } catch (err) {
      if (!(err instanceof WriteOutcomeUnknown)) throw err;
      const failed = new Map<number, Error>();
      for (let i = 0; i < batch.length; i++) {
        failed.set(i, new AppendOutcomeUnknownError((batch[i] as PendingAppend).persistenceId, { cause: err.cause }));
      }
      return { timestamp, failed };
    }
    if (out.lost) return { timestamp, failed: interpretReadBack(batch, out.value, out.cause) };
    const rows = out.result.rows;
    if (rows.length === 0) return { timestamp, failed: undefined };
    const failed = new Map<number, Error>();
    for (const row of rows) {
      const i = Number(row[0]) - 1;
      const p = batch[i] as PendingAppend;
      const token = tokens?.[i];
      if (fence !== undefined && row[1] === false && token !== undefined && token !== null) {
        failed.set(i, fence.refused(p.persistenceId, token[0], token[1]));
      } else {
        failed.set(i, new JournalConflictError(p.persistenceId, p.expected));
      }
    }
    return { timestamp, failed };
  }
}

/** A PostgreSQL int8[] literal with NULL entries. */
function intArrayLiteralOrNull(values: readonly (number | null)[]): string {
  return `{${values.map((v) => (v === null ? 'NULL' : String(v))).join(',')}}`;
}
