import { randomUUID } from 'node:crypto';
import type { DeleteStateOptions, DurableStateRecord, DurableStateStore, UpsertStateOptions, UpsertStateResult } from '../durable-state-store.js';
import { encodeTimerWrites } from '../encoded-timers.js';
import { timerWriteCtes, timerWriteParams, withTimerWrites } from './timer-writes.js';
import type { EncodedTimerWrites } from '../encoded-timers.js';
import type { Serializer } from '../serializer.js';
import { decodeValue } from '../serializer.js';
import { DurableStateConflictError, DurableStateOutcomeUnknownError, StoreUnavailableError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import { encodeState } from '../encoded-writes.js';
import { checkNonNegativeInt, checkPersistenceId } from '../validation.js';
import type { SqlDriver, SqlQuery, SqlResult } from './driver.js';
import { WriteOutcomeUnknown } from './driver.js';
import type { Tables } from './tables.js';
import type { WriteFence } from './write-fence.js';

/** What reading back an interrupted write found. */
type ReadBack = 'written' | 'not-written' | 'conflict' | 'unknown';

/**
 * @internal The durable-state store on PostgreSQL or PGlite. Each write is one statement whose
 * WHERE (or ON CONFLICT) is the compare-and-set: no row back means the revision did not match.
 * Every write stores a fresh `write_id`, so a write whose commit was interrupted is read back.
 */
export class SqlDurableStateStore implements DurableStateStore {
  readonly #driver: SqlDriver;
  readonly #t: Tables;
  readonly #serializer: Serializer;
  readonly #lifecycle: Lifecycle;
  readonly #fence: WriteFence | undefined;

  constructor(driver: SqlDriver, t: Tables, serializer: Serializer, lifecycle: Lifecycle, fence?: WriteFence) {
    this.#driver = driver;
    this.#t = t;
    this.#serializer = serializer;
    this.#lifecycle = lifecycle;
    this.#fence = fence;
  }

  async get(persistenceId: string): Promise<DurableStateRecord | undefined> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const r = await this.#driver.query(
      `SELECT revision, state_type, payload, updated_at FROM ${this.#t.durableState} WHERE persistence_id = $1`,
      [persistenceId],
    );
    const row = r.rows[0];
    if (row === undefined) return undefined;
    const type = row[1] as string;
    return {
      persistenceId,
      revision: Number(row[0]),
      type,
      value: decodeValue(this.#serializer, row[2] as Uint8Array, type, `durable state ${persistenceId}`),
      timestamp: Number(row[3]),
    };
  }

  async upsert(persistenceId: string, expectedRevision: number, value: unknown, options?: UpsertStateOptions): Promise<UpsertStateResult> {
    this.#lifecycle.check();
    const { type, payload } = encodeState(this.#serializer, persistenceId, expectedRevision, value, options);
    const timestamp = Date.now();
    const revision = expectedRevision + 1;
    const writeId = randomUUID();
    const t = this.#t.durableState;
    const fence = this.#fence;
    const token = fence === undefined ? null : fence.token(persistenceId);
    // With timer changes: the same write with the timers' CTEs after it, in its transaction.
    const timers = options?.timers === undefined ? undefined : encodeTimerWrites(this.#serializer, options.timers);
    if (fence !== undefined && token !== null) return this.#fencedUpsert(fence, token, persistenceId, expectedRevision, type, payload, timestamp, writeId, timers);
    const [text, values, name] =
      expectedRevision === 0
        ? [
            `INSERT INTO ${t} (persistence_id, revision, state_type, payload, updated_at, write_id) VALUES ($1, 1, $2, $3, $4, $5)
             ON CONFLICT (persistence_id) DO NOTHING`,
            [persistenceId, type, payload, timestamp, writeId],
            `bs_${this.#t.tag}_state_insert`,
          ]
        : [
            `UPDATE ${t} SET revision = $2, state_type = $3, payload = $4, updated_at = $5, write_id = $7
             WHERE persistence_id = $1 AND revision = $6`,
            [persistenceId, revision, type, payload, timestamp, expectedRevision, writeId],
            `bs_${this.#t.tag}_state_update`,
          ];
    const [text2, values2, name2] = timers === undefined ? [text, values, name] : withTimerWrites(this.#t, text, values, `${name}_timers`, timers, timestamp);
    const outcome = await this.#write(persistenceId, text2, values2, name2, async (query) => {
      const row = (await query(`SELECT revision, write_id FROM ${t} WHERE persistence_id = $1`, [persistenceId])).rows[0];
      if (row === undefined) return 'not-written';
      const current = Number(row[0]);
      if (row[1] === writeId) return 'written';
      if (current <= expectedRevision) return 'not-written';
      // At expected + 1 but not ours: someone else's write won. Higher: someone wrote on top, and
      // ours may be underneath.
      return current === revision ? 'conflict' : 'unknown';
    });
    if (outcome === 'written' || (typeof outcome === 'object' && (timers === undefined ? outcome.rowCount : outcome.rows.length) === 1)) return { revision, timestamp };
    throw new DurableStateConflictError(persistenceId, expectedRevision);
  }

  /**
   * An upsert under the cluster's fence: the write runs only if the fence's condition holds, in
   * the same statement, and the statement says which of the two stopped it (one row: ok, written).
   */
  async #fencedUpsert(
    fence: WriteFence,
    token: readonly [number, number],
    persistenceId: string,
    expectedRevision: number,
    type: string,
    payload: Uint8Array,
    timestamp: number,
    writeId: string,
    timers: EncodedTimerWrites | undefined,
  ): Promise<UpsertStateResult> {
    const t = this.#t.durableState;
    const revision = expectedRevision + 1;
    const cond = fence.condition('$8::int8', '$9::int8');
    const write =
      expectedRevision === 0
        ? `INSERT INTO ${t} (persistence_id, revision, state_type, payload, updated_at, write_id)
           SELECT $1, $2, $3, $4, $5, $7 FROM f WHERE f.ok AND $6::int8 = 0 ON CONFLICT (persistence_id) DO NOTHING RETURNING 1::int8 AS idx, persistence_id AS pid`
        : `UPDATE ${t} SET revision = $2, state_type = $3, payload = $4, updated_at = $5, write_id = $7
           FROM f WHERE f.ok AND persistence_id = $1 AND revision = $6 RETURNING 1::int8 AS idx, persistence_id AS pid`;
    // Timer changes join as CTEs on `w`: written only if the fenced write is.
    const timerCtes = timers === undefined ? '' : `, ${timerWriteCtes(this.#t, 'w', 10)}`;
    const text = `WITH f AS (SELECT ${cond} AS ok), w AS (${write})${timerCtes} SELECT (SELECT ok FROM f), (SELECT count(*) FROM w)`;
    const values: unknown[] = [persistenceId, revision, type, payload, timestamp, expectedRevision, writeId, token[0], token[1]];
    if (timers !== undefined) values.push(...timerWriteParams([{ idx: 1, writes: timers }], timestamp));
    const outcome = await this.#write(persistenceId, text, values, undefined, async (query) => {
      const row = (await query(`SELECT revision, write_id FROM ${t} WHERE persistence_id = $1`, [persistenceId])).rows[0];
      if (row === undefined) return 'not-written';
      if (row[1] === writeId) return 'written';
      const current = Number(row[0]);
      if (current <= expectedRevision) return 'not-written';
      return current === revision ? 'conflict' : 'unknown';
    });
    if (outcome === 'written') return { revision, timestamp };
    const row = outcome.rows[0];
    if (row !== undefined && row[0] === false) throw fence.refused(persistenceId, token[0], token[1]);
    if (row !== undefined && Number(row[1]) === 1) return { revision, timestamp };
    throw new DurableStateConflictError(persistenceId, expectedRevision);
  }

  async delete(persistenceId: string, expectedRevision?: number, options?: DeleteStateOptions): Promise<boolean> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const t = this.#t.durableState;
    if (expectedRevision !== undefined) checkNonNegativeInt(expectedRevision, 'expectedRevision');
    if (expectedRevision === 0) {
      // "Delete if it has no value": nothing to delete, but a value that exists is a conflict.
      const r = await this.#driver.query(`SELECT 1 FROM ${t} WHERE persistence_id = $1`, [persistenceId]);
      if (r.rows.length > 0) throw new DurableStateConflictError(persistenceId, expectedRevision);
      return false;
    }
    const [text1, values1] =
      expectedRevision === undefined
        ? [`DELETE FROM ${t} WHERE persistence_id = $1`, [persistenceId]]
        : [`DELETE FROM ${t} WHERE persistence_id = $1 AND revision = $2`, [persistenceId, expectedRevision]];
    const timers = options?.timers === undefined ? undefined : encodeTimerWrites(this.#serializer, options.timers);
    const [text, values] = timers === undefined ? [text1, values1] : withTimerWrites(this.#t, text1, values1, undefined, timers, Date.now());
    const outcome = await this.#write(persistenceId, text, values, undefined, async (query) => {
      const row = (await query(`SELECT revision FROM ${t} WHERE persistence_id = $1`, [persistenceId])).rows[0];
      if (row === undefined) return 'written'; // gone, as asked
      return expectedRevision === undefined || Number(row[0]) === expectedRevision ? 'not-written' : 'conflict';
    });
    if (outcome === 'written') return true;
    if ((timers === undefined ? outcome.rowCount : outcome.rows.length) === 1) return true;
    if (expectedRevision !== undefined) throw new DurableStateConflictError(persistenceId, expectedRevision);
    return false;
  }

  /**
   * Runs a write; if its connection was lost mid-commit, returns what the read-back found as
   * 'written', or throws what is true: not written (unavailable), conflict, or unknown.
   */
  async #write(
    persistenceId: string,
    text: string,
    values: readonly unknown[],
    name: string | undefined,
    readBack: (query: SqlQuery) => Promise<ReadBack>,
  ): Promise<SqlResult | 'written'> {
    let out;
    try {
      out = await this.#driver.write(text, values, name, readBack);
    } catch (err) {
      if (err instanceof WriteOutcomeUnknown) throw new DurableStateOutcomeUnknownError(persistenceId, { cause: err.cause });
      throw err;
    }
    if (!out.lost) return out.result;
    switch (out.value) {
      case 'written':
        return 'written';
      case 'conflict':
        return { rows: [], rowCount: 0 };
      case 'unknown':
        throw new DurableStateOutcomeUnknownError(persistenceId, { cause: out.cause });
      case 'not-written':
        throw new StoreUnavailableError(
          `the connection was lost while writing durable state "${persistenceId}"; read back: nothing was written`,
          { cause: out.cause },
        );
    }
  }
}
