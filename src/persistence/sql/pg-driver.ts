import pg from 'pg';
import type { Pool, PoolClient, QueryArrayConfig } from 'pg';
import type { Logger } from '../../logger.js';
import type { SqlDriver, SqlQuery, SqlResult } from './driver.js';
import { WriteOutcomeUnknown } from './driver.js';
import { isConnectionError, toStoreError } from './pg-errors.js';
import { StoreUnavailableError } from '../errors.js';

const INT8_OID = 20;
/** How many connections a `query()` tries before a lost connection is reported (see `query`). */
const QUERY_ATTEMPTS = 3;

// int8 as a JS number: sequence numbers, orderings and timestamps stay below 2^53, and numbers
// are what the API returns. Set per query, so a pool the user passes in keeps its own parsers.
const parseInt8 = (value: string): number => Number(value);
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PgDriverOptions {
  readonly pool: Pool;
  /** Whether `close()` ends the pool (true when the store created it). */
  readonly ownsPool: boolean;
  readonly logger: Logger;
  /** How long to keep trying to read back a write whose commit was interrupted. */
  readonly outcomeResolutionTimeoutMs: number;
}

/** @internal `SqlDriver` over a `pg` pool. */
export class PgDriver implements SqlDriver {
  readonly kind = 'postgres' as const;
  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly #logger: Logger;
  readonly #resolutionTimeoutMs: number;
  readonly #onPoolError: (err: Error) => void;
  readonly #onConnect: (client: PoolClient) => void;
  readonly #onRemove: (client: PoolClient) => void;
  /** Clients of the pool whose connection is not yet closed (added on 'connect', gone on 'remove'). */
  readonly #clients = new Set<PoolClient>();
  /** Set by close(): called when the last client's connection has closed. */
  #allGone: (() => void) | undefined;
  #closing = false;

  constructor(options: PgDriverOptions) {
    this.#pool = options.pool;
    this.#ownsPool = options.ownsPool;
    this.#logger = options.logger;
    this.#resolutionTimeoutMs = options.outcomeResolutionTimeoutMs;
    // An idle client whose server goes away makes the pool emit 'error'; with no listener that
    // would crash the process. The pool drops the client and reconnects on the next checkout.
    this.#onPoolError = (err) => {
      if (this.#closing) this.#logger.debug({ err }, 'database connection ended by the server while the store closed');
      else this.#logger.warn({ err }, 'idle database connection lost');
    };
    this.#pool.on('error', this.#onPoolError);
    // Every client gets a listener for life, from birth: pg-pool hands a new client over (and drops
    // its own listener) while parsing the connection's ReadyForQuery, and a FATAL that arrives in
    // the same socket chunk (a session terminated as it starts) is emitted in that same parse,
    // before any checkout can add its listener. Errors of a running query still reach the query.
    this.#onConnect = (client) => {
      client.on('error', absorbForLife);
      this.#clients.add(client);
    };
    // pg-pool emits 'remove' once a removed client's connection has closed (its end() callback).
    this.#onRemove = (client) => {
      if (!this.#clients.delete(client) || this.#clients.size > 0) return;
      const done = this.#allGone;
      this.#allGone = undefined;
      done?.();
    };
    this.#pool.on('connect', this.#onConnect);
    this.#pool.on('remove', this.#onRemove);
  }

  async query(text: string, values: readonly unknown[] = [], name?: string): Promise<SqlResult> {
    // Not pool.query(): it listens for the client's 'error' with `once`, and a terminated session
    // can emit two (the FATAL message, then the closed socket) — the second would be unhandled and
    // crash the process. The checkout below keeps a listener for as long as the client is out.
    //
    // A session the server ended while the client sat idle in the pool (a restart, a failover,
    // pg_terminate_backend) is only discovered when it is used. Statements sent through query()
    // are reads or idempotent deletes, so one that failed on a lost connection runs again on
    // another one, a bounded number of times; a refused connection is not retried.
    for (let attempt = 1; ; attempt++) {
      const client = await this.#checkout();
      try {
        const result = await client.query(config(text, values, name));
        release(client);
        return { rows: result.rows, rowCount: result.rowCount ?? 0 };
      } catch (err) {
        release(client, err);
        if (attempt < QUERY_ATTEMPTS && isConnectionError(err)) {
          this.#logger.debug({ err, attempt }, 'connection lost during a read; running it again on another connection');
          continue;
        }
        throw toStoreError(err, 'query failed');
      }
    }
  }

  async write<T>(
    text: string,
    values: readonly unknown[],
    name: string | undefined,
    readBack: (query: SqlQuery) => Promise<T>,
  ): Promise<{ lost: false; result: SqlResult } | { lost: true; value: T; cause: unknown }> {
    // Nothing is sent if this fails: a definite failure.
    const client = await this.#checkout();
    const backendPid = processIdOf(client);
    try {
      const result = await client.query(config(text, values, name));
      release(client);
      return { lost: false, result: { rows: result.rows, rowCount: result.rowCount ?? 0 } };
    } catch (err) {
      if (!isConnectionError(err)) {
        // A statement error on a live connection: the statement's transaction rolled back.
        release(client);
        throw toStoreError(err, 'write failed');
      }
      // The statement may or may not have committed. Destroy the client, then find out.
      release(client, err);
      this.#logger.warn({ err, backendPid }, 'connection lost during a write; reading back its outcome');
      const value = await this.#resolve(backendPid, readBack, err);
      return { lost: true, value, cause: err };
    }
  }

  async transaction<T>(fn: (query: SqlQuery) => Promise<T>): Promise<T> {
    const client = await this.#checkout();
    const query: SqlQuery = async (text, values = []) => {
      try {
        const r = await client.query(config(text, values, undefined));
        return { rows: r.rows, rowCount: r.rowCount ?? 0 };
      } catch (err) {
        throw toStoreError(err, 'query failed');
      }
    };
    try {
      await query('BEGIN');
      const value = await fn(query);
      await query('COMMIT');
      release(client);
      return value;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
        release(client);
      } catch (rollbackErr) {
        release(client, rollbackErr);
      }
      throw err;
    }
  }

  /**
   * Ends the pool (when the store created it) and resolves once every one of its connections has
   * closed; never rejects. `pg-pool`'s own `end()` resolves as soon as it has asked its clients
   * to end, while their sessions are still open: a server that ends those sessions in that
   * window (DROP DATABASE … WITH (FORCE), a failover, pg_terminate_backend) makes each client
   * and the pool emit 'error', which with no listener left would kill the process (57P01). So the
   * listeners stay for good (the pool is never used again), and close waits for the connections
   * themselves. A pool passed in by the user is theirs to end: only this driver's listeners go.
   */
  async close(): Promise<void> {
    if (!this.#ownsPool) {
      this.#pool.off('error', this.#onPoolError);
      this.#pool.off('connect', this.#onConnect);
      this.#pool.off('remove', this.#onRemove);
      return;
    }
    this.#closing = true;
    try {
      await this.#pool.end();
    } catch (err) {
      this.#logger.warn({ err }, 'ending the connection pool failed');
    }
    // The pool has let go of every client (none can join an ending pool); now their connections.
    if (this.#clients.size > 0) await new Promise<void>((resolve) => (this.#allGone = resolve));
  }

  /**
   * Settles a write interrupted by a lost connection. The old session might still be running
   * (a lost socket does not stop a backend that is waiting for a lock), so first make sure it is
   * over: ask the server to terminate it and wait until it is gone or idle. Only then is the
   * read-back final. Retries, with backoff, until the server answers or the time is up.
   */
  async #resolve<T>(backendPid: number | undefined, readBack: (query: SqlQuery) => Promise<T>, cause: unknown): Promise<T> {
    const deadline = Date.now() + this.#resolutionTimeoutMs;
    let lastError: unknown = cause;
    for (let attempt = 0; ; attempt++) {
      let client: PoolClient | undefined;
      try {
        client = await this.#checkout();
        const c = client;
        const query: SqlQuery = async (text, values = []) => {
          const r = await c.query(config(text, values, undefined));
          return { rows: r.rows, rowCount: r.rowCount ?? 0 };
        };
        if (backendPid !== undefined) await this.#awaitSessionOver(query, backendPid, deadline);
        const value = await readBack(query);
        release(client);
        this.#logger.info({ backendPid, attempts: attempt + 1 }, 'outcome of an interrupted write read back');
        return value;
      } catch (err) {
        if (client !== undefined) release(client, err);
        lastError = err;
        if (!isConnectionError(err) && !(err instanceof StoreUnavailableError)) {
          // The read-back itself is broken (e.g. the tables were dropped): no answer will come.
          throw new WriteOutcomeUnknown(err);
        }
      }
      if (Date.now() >= deadline) throw new WriteOutcomeUnknown(lastError);
      await delay(Math.min(1000, 25 * 2 ** Math.min(attempt, 6)));
    }
  }

  /**
   * Checks a client out of the pool. While it is checked out the pool does not listen for its
   * errors, and a session ended between two messages (a FATAL right after a result) would be an
   * unhandled 'error' event that crashes the process; the listener here absorbs it (the next use
   * of the client fails, and it is then destroyed on release).
   */
  async #checkout(): Promise<PoolClient> {
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw toStoreError(err, 'could not connect');
    }
    client.on('error', absorb);
    return client;
  }

  async #awaitSessionOver(query: SqlQuery, backendPid: number, deadline: number): Promise<void> {
    // The pid could in theory have been reused by an unrelated session by now; terminating that
    // one would only cost it its connection, while trusting a live old session could misreport.
    try {
      await query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1', [backendPid]);
    } catch (err) {
      if (isConnectionError(err)) throw err;
      // Not allowed to terminate it: waiting below still gives the right answer, only slower.
    }
    for (let i = 0; ; i++) {
      const r = await query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state IS DISTINCT FROM 'idle'", [backendPid]);
      if (r.rows.length === 0) return;
      if (Date.now() >= deadline) throw new StoreUnavailableError(`session ${backendPid} did not end in time`);
      await delay(Math.min(200, 5 * 2 ** Math.min(i, 6)));
    }
  }
}

const absorb = (): void => {};
/** A listener of its own (not `absorb`, which checkouts add and remove). */
const absorbForLife = (): void => {};

/** Returns a client to the pool; with an error, the pool destroys it instead of reusing it. */
function release(client: PoolClient, err?: unknown): void {
  if (err === undefined) {
    // Back to the pool, which listens for idle clients' errors itself.
    client.off('error', absorb);
    client.release();
  } else {
    // Destroyed: keep absorbing, since a dying session can still emit a late 'error'.
    client.release(err instanceof Error ? err : true);
  }
}

function config(text: string, values: readonly unknown[], name: string | undefined): QueryArrayConfig {
  const c: QueryArrayConfig = { text, values: values as unknown[], rowMode: 'array', types };
  if (name !== undefined) c.name = name;
  return c;
}

function processIdOf(client: PoolClient): number | undefined {
  const pid = (client as unknown as { processID?: unknown }).processID;
  return typeof pid === 'number' ? pid : undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
