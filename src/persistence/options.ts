import type { WriteFence } from './sql/write-fence.js';
import type { Logger } from '../logger.js';
import type { Serializer } from './serializer.js';

/** Options every backend accepts. */
export interface CommonStoreOptions {
  /** Encodes payloads, snapshots, state and metadata. Default: `msgpackSerializer()`. */
  readonly serializer?: Serializer;
  /** A pino-shaped logger. Default `defaultLogger` (warnings and errors to stderr). */
  readonly logger?: Logger;
}

/** Group-commit bounds (PostgreSQL and PGlite). */
export interface GroupCommitSettings {
  /** Most events per batch. Default 1000. */
  readonly maxBatchEvents?: number;
  /** Most payload + metadata bytes per batch. Default 4 MiB. */
  readonly maxBatchBytes?: number;
  /** Batches running at once, each on its own connection. Default 3 on PostgreSQL (measured best on 2 cores); always 1 on PGlite. */
  readonly maxBatchesInFlight?: number;
}

/** Options of the SQL backends. */
export interface SqlStoreOptions extends CommonStoreOptions {
  /** Schema holding the tables; created if missing. Default `'public'`. */
  readonly schema?: string;
  /** Prefix of every table name. Default `'beamstate_'`. */
  readonly tablePrefix?: string;
  /**
   * Run pending migrations when the store is created. Default `true`. With `false` the store
   * checks that the schema is up to date and fails with `MIGRATION_FAILED` if not.
   */
  readonly migrate?: boolean;
  readonly groupCommit?: GroupCommitSettings;
  /** Events fetched per query during a replay. Default 5000. */
  readonly replayChunkSize?: number;
  /**
   * A cluster node's `writeFence` (docs/cluster.md): every journal append and durable-state
   * write of a sharded entity checks its shard's owner and epoch in its own statement.
   * PostgreSQL only: PGlite is single-node.
   */
  readonly writeFence?: WriteFence;
}

/**
 * A `pg.Pool` (from the `pg` package), described by the members the store uses, so that
 * beamstate's public types do not require `@types/pg` in your project. Any `pg.Pool` fits.
 */
export interface PgPoolInstance {
  connect(): Promise<unknown>;
  query(...args: never[]): Promise<unknown>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
  end(): Promise<void>;
}

/** PostgreSQL through `pg`: pass exactly one of `connectionString` and `pool`. */
export interface PostgresStoreOptions extends SqlStoreOptions {
  readonly kind: 'postgres';
  /** e.g. `postgres://user@host:5432/db`. The store creates (and closes) its own pool. */
  readonly connectionString?: string;
  /** A pool you own: the store uses it and does not end it on close. */
  readonly pool?: PgPoolInstance;
  /** Connections in the store's own pool. Default 10. Ignored with `pool`. */
  readonly poolSize?: number;
  /** How long to wait for a new connection before failing with `STORE_UNAVAILABLE`. Default 10000 ms. Ignored with `pool`. */
  readonly connectionTimeoutMs?: number;
  /**
   * After a connection is lost during a commit, how long to keep trying to read back whether it
   * committed before failing with `APPEND_OUTCOME_UNKNOWN` (or `DURABLE_STATE_OUTCOME_UNKNOWN`).
   * Default 30000 ms.
   */
  readonly outcomeResolutionTimeoutMs?: number;
}

/**
 * A PGlite instance (`new PGlite(…)` or `PGlite.create(…)`), described by the members the store
 * uses. PGlite's own declarations need `@types/emscripten`, which PGlite does not install for its
 * users, so beamstate's public types stay clear of them and any PGlite instance fits here.
 */
export interface PGliteInstance {
  readonly closed: boolean;
  close(): Promise<void>;
  query(...args: never[]): Promise<unknown>;
  transaction(...args: never[]): Promise<unknown>;
}

/** Embedded PostgreSQL (PGlite), in this process, in a data folder. */
export interface PGliteStoreOptions extends SqlStoreOptions {
  readonly kind: 'pglite';
  /** The data folder; `'memory://'` keeps everything in memory. Default `'.beamstate/pglite'`. */
  readonly dataDir?: string;
  /**
   * How safe a resolved write is in a data folder (ignored for `memory://` and `db`). `'fsync'`
   * (the default): PostgreSQL fsyncs the WAL before each COMMIT returns (once per group-commit
   * batch), so it survives an OS crash or power loss. `'process'`: no fsync (PGlite's own
   * behaviour); a resolved write survives the process being killed, not an OS crash. See
   * docs/persistence.md#durability.
   */
  readonly durability?: 'fsync' | 'process';
  /** A PGlite instance you own (then `dataDir` is ignored and close() leaves it open). */
  readonly db?: PGliteInstance;
}

/** Plain JavaScript maps: for tests and throwaway systems. Nothing survives the process. */
export interface MemoryStoreOptions extends CommonStoreOptions {
  readonly kind: 'memory';
}

export type StoreOptions = PostgresStoreOptions | PGliteStoreOptions | MemoryStoreOptions;

export type StoreKind = StoreOptions['kind'];

/**
 * Every default in one place. `createStore()` with no options is an embedded PGlite store in
 * `.beamstate/pglite` under the working directory.
 */
export const STORE_DEFAULTS = Object.freeze({
  kind: 'pglite' as StoreKind,
  dataDir: '.beamstate/pglite',
  durability: 'fsync' as 'fsync' | 'process',
  schema: 'public',
  tablePrefix: 'beamstate_',
  migrate: true,
  poolSize: 10,
  connectionTimeoutMs: 10_000,
  outcomeResolutionTimeoutMs: 30_000,
  replayChunkSize: 5_000,
  maxBatchEvents: 1_000,
  maxBatchBytes: 4 * 1024 * 1024,
  maxBatchesInFlight: 3,
});
