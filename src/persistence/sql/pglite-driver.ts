import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { SqlDriver, SqlQuery, SqlResult } from './driver.js';
import { BeamstateError } from '../../errors.js';
import { StoreQueryError } from '../errors.js';
import { sqlStateOf } from './pg-errors.js';

/**
 * @internal `SqlDriver` over an embedded PGlite database. PGlite runs in this process, one query
 * at a time, so there is no connection to lose: every error is a definite statement failure,
 * and `write` never has to read back.
 */
export class PGliteDriver implements SqlDriver {
  readonly kind = 'pglite' as const;
  readonly #db: PGlite;
  readonly #ownsDb: boolean;
  readonly #afterClose: () => void;

  /** `afterClose` runs once the database is closed (it releases the data folder's lock). */
  constructor(db: PGlite, ownsDb: boolean, afterClose: () => void = () => {}) {
    this.#db = db;
    this.#ownsDb = ownsDb;
    this.#afterClose = afterClose;
  }

  async query(text: string, values: readonly unknown[] = []): Promise<SqlResult> {
    try {
      const r = await this.#db.query<unknown[]>(text, values as unknown[], { rowMode: 'array' });
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    } catch (err) {
      throw toQueryError(err);
    }
  }

  async write<T>(
    text: string,
    values: readonly unknown[],
  ): Promise<{ lost: false; result: SqlResult } | { lost: true; value: T; cause: unknown }> {
    return { lost: false, result: await this.query(text, values) };
  }

  async transaction<T>(fn: (query: SqlQuery) => Promise<T>): Promise<T> {
    try {
      return await this.#db.transaction(async (tx: Transaction) =>
        fn(async (text, values = []) => {
          try {
            const r = await tx.query<unknown[]>(text, values as unknown[], { rowMode: 'array' });
            return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
          } catch (err) {
            throw toQueryError(err);
          }
        }),
      );
    } catch (err) {
      throw toQueryError(err);
    }
  }

  async close(): Promise<void> {
    try {
      if (this.#ownsDb && !this.#db.closed) await this.#db.close();
    } finally {
      this.#afterClose();
    }
  }
}

function toQueryError(err: unknown): Error {
  if (err instanceof BeamstateError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new StoreQueryError(`query failed: ${message}`, sqlStateOf(err), { cause: err });
}
