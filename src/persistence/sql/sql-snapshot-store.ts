import type { SaveSnapshotOptions, Snapshot, SnapshotCriteria, SnapshotMetadata, SnapshotStore } from '../snapshot-store.js';
import type { Serializer } from '../serializer.js';
import { decodeValue } from '../serializer.js';
import type { Lifecycle } from '../lifecycle.js';
import { encodeSnapshot } from '../encoded-writes.js';
import { checkNonNegativeInt, checkPersistenceId, criteriaBounds } from '../validation.js';
import type { SqlDriver } from './driver.js';
import { WriteOutcomeUnknown } from './driver.js';
import { SnapshotOutcomeUnknownError, StoreUnavailableError } from '../errors.js';
import { randomUUID } from 'node:crypto';
import type { Tables } from './tables.js';

const CRITERIA = 'persistence_id = $1 AND sequence_nr BETWEEN $2 AND $3 AND created_at BETWEEN $4 AND $5';

/** @internal The snapshot store on PostgreSQL or PGlite. */
export class SqlSnapshotStore implements SnapshotStore {
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

  async save(persistenceId: string, sequenceNr: number, snapshot: unknown, options?: SaveSnapshotOptions): Promise<SnapshotMetadata> {
    this.#lifecycle.check();
    const { type, timestamp, payload, metadata } = encodeSnapshot(this.#serializer, persistenceId, sequenceNr, snapshot, options);
    const writeId = randomUUID();
    const t = this.#t.snapshots;
    let out;
    try {
      out = await this.#driver.write(
        `INSERT INTO ${t} (persistence_id, sequence_nr, created_at, snapshot_type, payload, metadata, write_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (persistence_id, sequence_nr) DO UPDATE
         SET created_at = EXCLUDED.created_at, snapshot_type = EXCLUDED.snapshot_type,
             payload = EXCLUDED.payload, metadata = EXCLUDED.metadata, write_id = EXCLUDED.write_id`,
        [persistenceId, sequenceNr, timestamp, type, payload, metadata, writeId],
        `bs_${this.#t.tag}_snapshot_save`,
        async (query) => {
          const r = await query(`SELECT write_id FROM ${t} WHERE persistence_id = $1 AND sequence_nr = $2`, [persistenceId, sequenceNr]);
          return r.rows[0]?.[0] === writeId;
        },
      );
    } catch (err) {
      if (err instanceof WriteOutcomeUnknown) throw new SnapshotOutcomeUnknownError(persistenceId, { cause: err.cause });
      throw err;
    }
    if (out.lost && !out.value) {
      throw new StoreUnavailableError(
        `the connection was lost while saving a snapshot of "${persistenceId}"; read back: it was not saved`,
        { cause: out.cause },
      );
    }
    return { persistenceId, sequenceNr, timestamp };
  }

  async loadLatest(persistenceId: string, criteria?: SnapshotCriteria): Promise<Snapshot | undefined> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const c = criteriaBounds(criteria);
    const r = await this.#driver.query(
      `SELECT sequence_nr, created_at, snapshot_type, payload, metadata FROM ${this.#t.snapshots}
       WHERE ${CRITERIA} ORDER BY sequence_nr DESC LIMIT 1`,
      [persistenceId, c.minSequenceNr, c.maxSequenceNr, c.minTimestamp, c.maxTimestamp],
    );
    const row = r.rows[0];
    if (row === undefined) return undefined;
    const sequenceNr = Number(row[0]);
    const type = row[2] as string;
    const metadata = row[4] as Uint8Array | null;
    const what = `snapshot ${persistenceId}#${sequenceNr}`;
    return {
      persistenceId,
      sequenceNr,
      timestamp: Number(row[1]),
      type,
      snapshot: decodeValue(this.#serializer, row[3] as Uint8Array, type, what),
      metadata:
        metadata === null ? undefined : (decodeValue(this.#serializer, metadata, '', `metadata of ${what}`) as Record<string, unknown>),
    };
  }

  async delete(persistenceId: string, criteria: SnapshotCriteria): Promise<number> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    const c = criteriaBounds(criteria);
    const r = await this.#driver.query(`DELETE FROM ${this.#t.snapshots} WHERE ${CRITERIA}`, [
      persistenceId,
      c.minSequenceNr,
      c.maxSequenceNr,
      c.minTimestamp,
      c.maxTimestamp,
    ]);
    return r.rowCount;
  }

  async keepLast(persistenceId: string, count: number): Promise<number> {
    this.#lifecycle.check();
    checkPersistenceId(persistenceId);
    checkNonNegativeInt(count, 'count');
    const r = await this.#driver.query(
      `DELETE FROM ${this.#t.snapshots} WHERE persistence_id = $1 AND sequence_nr NOT IN (
         SELECT sequence_nr FROM ${this.#t.snapshots} WHERE persistence_id = $1 ORDER BY sequence_nr DESC LIMIT $2
       )`,
      [persistenceId, count],
    );
    return r.rowCount;
  }
}
