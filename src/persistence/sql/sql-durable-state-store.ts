import type { DurableStateRecord, DurableStateStore, UpsertStateOptions, UpsertStateResult } from '../durable-state-store.js';
import type { Serializer } from '../serializer.js';
import { decodeValue, encodeValue } from '../serializer.js';
import { DurableStateConflictError } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import { checkNonNegativeInt, checkPersistenceId, checkTypeName } from '../validation.js';
import type { SqlDriver } from './driver.js';
import type { Tables } from './tables.js';

/**
 * @internal The durable-state store on PostgreSQL or PGlite. Each write is one statement whose
 * WHERE (or ON CONFLICT) is the compare-and-set: no row back means the revision did not match.
 */
export class SqlDurableStateStore implements DurableStateStore {
  readonly #driver: SqlDriver;
  readonly #t: Tables;
  readonly #serializer: Serializer;
  readonly #lifecycle: Lifecycle;

  constructor(driver: SqlDriver, t: Tables, serializer: Serializer, lifecycle: Lifecycle) {
    this.#driver = driver;
    this.#t = t;
    this.#serializer = serializer;
    this.#lifecycle = lifecycle;
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
    checkPersistenceId(persistenceId);
    checkNonNegativeInt(expectedRevision, 'expectedRevision');
    const type = options?.type === undefined ? '' : checkTypeName(options.type, 'options.type');
    const payload = encodeValue(this.#serializer, value, `durable state ${persistenceId}`);
    const timestamp = Date.now();
    const revision = expectedRevision + 1;
    const t = this.#t.durableState;
    const r =
      expectedRevision === 0
        ? await this.#driver.query(
            `INSERT INTO ${t} (persistence_id, revision, state_type, payload, updated_at) VALUES ($1, 1, $2, $3, $4)
             ON CONFLICT (persistence_id) DO NOTHING`,
            [persistenceId, type, payload, timestamp],
          )
        : await this.#driver.query(
            `UPDATE ${t} SET revision = $2, state_type = $3, payload = $4, updated_at = $5
             WHERE persistence_id = $1 AND revision = $6`,
            [persistenceId, revision, type, payload, timestamp, expectedRevision],
          );
    if (r.rowCount !== 1) throw new DurableStateConflictError(persistenceId, expectedRevision);
    return { revision, timestamp };
  }

  async delete(persistenceId: string, expectedRevision?: number): Promise<boolean> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const t = this.#t.durableState;
    if (expectedRevision === undefined) {
      const r = await this.#driver.query(`DELETE FROM ${t} WHERE persistence_id = $1`, [persistenceId]);
      return r.rowCount > 0;
    }
    checkNonNegativeInt(expectedRevision, 'expectedRevision');
    if (expectedRevision === 0) {
      // "Delete if it has no value": nothing to delete, but a value that exists is a conflict.
      const r = await this.#driver.query(`SELECT 1 FROM ${t} WHERE persistence_id = $1`, [persistenceId]);
      if (r.rows.length > 0) throw new DurableStateConflictError(persistenceId, expectedRevision);
      return false;
    }
    const r = await this.#driver.query(`DELETE FROM ${t} WHERE persistence_id = $1 AND revision = $2`, [persistenceId, expectedRevision]);
    if (r.rowCount !== 1) throw new DurableStateConflictError(persistenceId, expectedRevision);
    return true;
  }
}
