/**
 * What the SQL stores need from a database: PostgreSQL through `pg`, or PGlite. The
 * SQL is the same for both; the drivers differ in connections, value parsing and failures.
 */

/** Rows come back as arrays, in the statement's column order (cheaper than objects). */
export interface SqlResult {
  readonly rows: unknown[][];
  readonly rowCount: number;
}

export type SqlQuery = (text: string, values?: readonly unknown[]) => Promise<SqlResult>;

export interface SqlDriver {
  readonly kind: 'postgres' | 'pglite';

  /**
   * Runs one statement (its own transaction unless inside `transaction`). `name` makes it a
   * prepared statement where the driver supports that. Rejects with `StoreUnavailableError`
   * on a lost or refused connection, `StoreQueryError` when the database rejects it.
   * int8 columns come back as numbers, bytea as `Uint8Array`. Only for statements that are safe
   * to run twice (reads, idempotent deletes): a driver may run one again on another connection
   * when the first was lost.
   */
  query(text: string, values?: readonly unknown[], name?: string): Promise<SqlResult>;

  /**
   * Runs a write statement whose outcome must never be guessed. If the connection is lost after
   * the statement may have reached the server, waits until that session is certainly over, runs
   * `readBack` on a fresh connection and returns `{ lost: true, value }`; throws
   * `WriteOutcomeUnknown` if that cannot be done in time.
   */
  write<T>(
    text: string,
    values: readonly unknown[],
    name: string | undefined,
    readBack: (query: SqlQuery) => Promise<T>,
  ): Promise<{ lost: false; result: SqlResult } | { lost: true; value: T; cause: unknown }>;

  /** Runs `fn` in one transaction on one connection (used by migrations). */
  transaction<T>(fn: (query: SqlQuery) => Promise<T>): Promise<T>;

  close(): Promise<void>;
}

/** @internal The outcome of a write could not be determined (see `SqlDriver.write`). */
export class WriteOutcomeUnknown extends Error {
  constructor(cause: unknown) {
    super('the outcome of a write could not be determined', { cause });
  }
}
