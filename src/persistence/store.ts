import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from '../logger.js';
import { defaultLogger } from '../logger.js';
import type { Journal } from './journal.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { DurableStateStore } from './durable-state-store.js';
import type { Serializer } from './serializer.js';
import { msgpackSerializer } from './serializer.js';
import type { GroupCommitOptions } from './group-commit.js';
import type { PGliteStoreOptions, PostgresStoreOptions, SqlStoreOptions, StoreKind, StoreOptions } from './options.js';
import { STORE_DEFAULTS } from './options.js';
import { MigrationError, PersistenceArgumentError, StoreLockedError, StoreUnavailableError } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import { checkPositiveInt } from './validation.js';
import { MemoryJournal } from './memory/memory-journal.js';
import { MemorySnapshotStore } from './memory/memory-snapshot-store.js';
import { MemoryDurableStateStore } from './memory/memory-durable-state-store.js';
import { MemoryRecoveryReader } from './memory/memory-recovery.js';
import type { RecoveryReader } from './recovery.js';
import { SqlRecoveryReader } from './sql/sql-recovery.js';

/** Recovery statements in flight at once on a PostgreSQL pool. */
const RECOVERY_IN_FLIGHT_POSTGRES = 4;
import type { SqlDriver } from './sql/driver.js';
import { PgDriver } from './sql/pg-driver.js';
import { PGliteDriver } from './sql/pglite-driver.js';
import { openPGlite } from './sql/pglite-folder.js';
import type { Tables } from './sql/tables.js';
import { tables } from './sql/tables.js';
import { LATEST_VERSION, migrate } from './sql/migrations.js';
import { SqlJournal } from './sql/sql-journal.js';
import { SqlSnapshotStore } from './sql/sql-snapshot-store.js';
import { SqlDurableStateStore } from './sql/sql-durable-state-store.js';
import { MemoryProjectionOffsets, SqlProjectionOffsets, type ProjectionOffsetStore } from './global-order-offsets.js';
import type { TimerStore } from './timer-store.js';
import { MemoryTimerStore } from './memory/memory-timer-store.js';
import { SqlTimerStore } from './sql/sql-timer-store.js';

/** A journal, snapshot store and durable-state store on one backend. */
export interface Store extends AsyncDisposable {
  readonly kind: StoreKind;
  readonly journal: Journal;
  readonly snapshots: SnapshotStore;
  readonly durableState: DurableStateStore;
  /** Durable timers (written with the journal's and durable-state store's writes; see docs/timers.md). */
  readonly timers: TimerStore;
  /** Latest snapshot plus the events after it, in one call; concurrent loads share statements on SQL backends. */
  readonly recovery: RecoveryReader;
  /** @internal Where projections keep their offsets (`EntityRuntime.projection`). */
  readonly projectionOffsets: ProjectionOffsetStore;
  /**
   * Stops accepting calls (they reject with `STORE_CLOSED`), waits for queued and running
   * appends to settle, then releases the connection pool or database the store created.
   * Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Creates a store. With no argument: embedded PGlite in `.beamstate/pglite`. A string is a
 * PostgreSQL connection URL (`postgres://…` or `postgresql://…`). SQL stores run their
 * migrations before this resolves (unless `migrate: false`). See `STORE_DEFAULTS`.
 */
export async function createStore(options?: StoreOptions | string): Promise<Store> {
  const opts = normalize(options);
  const serializer = checkSerializer(opts.serializer);
  const logger = (opts.logger ?? defaultLogger).child({ component: 'persistence', backend: opts.kind });
  const lifecycle = new Lifecycle();
  switch (opts.kind) {
    case 'memory': {
      const timers = new MemoryTimerStore(serializer, lifecycle);
      const journal = new MemoryJournal(serializer, lifecycle, timers);
      const snapshots = new MemorySnapshotStore(serializer, lifecycle);
      return withOffsets(new MemoryProjectionOffsets(lifecycle), assemble('memory', lifecycle, journal, snapshots, new MemoryDurableStateStore(serializer, lifecycle, timers), timers, new MemoryRecoveryReader(journal, snapshots), async () => {}));
    }
    case 'postgres':
    case 'pglite': {
      if (opts.kind === 'pglite' && opts.writeFence !== undefined) {
        throw new PersistenceArgumentError('options.writeFence', 'PGlite (embedded) is single-node and cannot be part of a cluster: use PostgreSQL (kind: \'postgres\')');
      }
      const fence = opts.writeFence;
      const t = tables(opts.schema ?? STORE_DEFAULTS.schema, opts.tablePrefix ?? STORE_DEFAULTS.tablePrefix);
      const groupCommit = groupCommitOptions(opts);
      const replayChunkSize = checkPositiveInt(opts.replayChunkSize ?? STORE_DEFAULTS.replayChunkSize, 'options.replayChunkSize');
      const driver = opts.kind === 'postgres' ? postgresDriver(opts, logger) : await pgliteDriver(opts);
      try {
        await prepareSchema(driver, t, opts.migrate ?? STORE_DEFAULTS.migrate, logger);
      } catch (err) {
        await driver.close().catch(() => {});
        throw err;
      }
      const journal = new SqlJournal({ driver, tables: t, serializer, lifecycle, groupCommit, replayChunkSize, ...(fence === undefined ? {} : { fence }) });
      logger.info({ schema: t.schema, tablePrefix: t.prefix, ...groupCommit }, 'store ready');
      // Recovery reads run a few statements at once on a pool; PGlite runs one at a time anyway.
      const recoveryInFlight = opts.kind === 'postgres' ? RECOVERY_IN_FLIGHT_POSTGRES : 1;
      return withOffsets(new SqlProjectionOffsets(driver, t, lifecycle), assemble(
        opts.kind,
        lifecycle,
        journal,
        new SqlSnapshotStore(driver, t, serializer, lifecycle),
        new SqlDurableStateStore(driver, t, serializer, lifecycle, fence),
        new SqlTimerStore(driver, t, serializer, lifecycle, fence),
        new SqlRecoveryReader(driver, t, serializer, lifecycle, recoveryInFlight),
        async () => {
          await journal.drain();
          await driver.close();
        },
      ));
    }
    default:
      throw new PersistenceArgumentError('options.kind', `must be 'postgres', 'pglite' or 'memory', got ${JSON.stringify((opts as { kind: unknown }).kind)}`);
  }
}

function normalize(options: StoreOptions | string | undefined): StoreOptions {
  if (options === undefined) return { kind: 'pglite' };
  if (typeof options === 'string') {
    if (!/^postgres(ql)?:\/\//.test(options)) {
      throw new PersistenceArgumentError('options', 'a string must be a postgres:// or postgresql:// connection URL');
    }
    return { kind: 'postgres', connectionString: options };
  }
  if (typeof options !== 'object' || options === null) throw new PersistenceArgumentError('options', 'must be an object or a connection URL');
  return options;
}

function checkSerializer(serializer: Serializer | undefined): Serializer {
  if (serializer === undefined) return msgpackSerializer();
  if (typeof serializer.encode !== 'function' || typeof serializer.decode !== 'function') {
    throw new PersistenceArgumentError('options.serializer', 'must have encode and decode functions');
  }
  return serializer;
}

function groupCommitOptions(opts: SqlStoreOptions & { kind: 'postgres' | 'pglite' }): GroupCommitOptions {
  const g = opts.groupCommit ?? {};
  const inFlight = checkPositiveInt(g.maxBatchesInFlight ?? STORE_DEFAULTS.maxBatchesInFlight, 'options.groupCommit.maxBatchesInFlight');
  return {
    maxBatchEvents: checkPositiveInt(g.maxBatchEvents ?? STORE_DEFAULTS.maxBatchEvents, 'options.groupCommit.maxBatchEvents'),
    maxBatchBytes: checkPositiveInt(g.maxBatchBytes ?? STORE_DEFAULTS.maxBatchBytes, 'options.groupCommit.maxBatchBytes'),
    // PGlite runs one statement at a time: a second batch in flight would only wait its turn.
    maxBatchesInFlight: opts.kind === 'pglite' ? 1 : inFlight,
  };
}

function postgresDriver(opts: PostgresStoreOptions, logger: Logger): SqlDriver {
  const hasUrl = opts.connectionString !== undefined;
  const hasPool = opts.pool !== undefined;
  if (hasUrl === hasPool) {
    throw new PersistenceArgumentError('options', "a 'postgres' store needs exactly one of connectionString and pool");
  }
  const outcomeResolutionTimeoutMs = checkPositiveInt(
    opts.outcomeResolutionTimeoutMs ?? STORE_DEFAULTS.outcomeResolutionTimeoutMs,
    'options.outcomeResolutionTimeoutMs',
  );
  if (opts.pool !== undefined) return new PgDriver({ pool: opts.pool as pg.Pool, ownsPool: false, logger, outcomeResolutionTimeoutMs });
  if (typeof opts.connectionString !== 'string' || opts.connectionString === '') {
    throw new PersistenceArgumentError('options.connectionString', 'must be a non-empty string');
  }
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: checkPositiveInt(opts.poolSize ?? STORE_DEFAULTS.poolSize, 'options.poolSize'),
    connectionTimeoutMillis: checkPositiveInt(opts.connectionTimeoutMs ?? STORE_DEFAULTS.connectionTimeoutMs, 'options.connectionTimeoutMs'),
    // TCP keepalive notices a server that vanished without closing the connection (after the
    // OS's probe interval), so such calls fail instead of hanging.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'beamstate',
  });
  return new PgDriver({ pool, ownsPool: true, logger, outcomeResolutionTimeoutMs });
}

async function pgliteDriver(opts: PGliteStoreOptions): Promise<SqlDriver> {
  if (opts.db !== undefined) return new PGliteDriver(opts.db as PGlite, false);
  const dataDir = opts.dataDir ?? STORE_DEFAULTS.dataDir;
  if (typeof dataDir !== 'string' || dataDir === '') throw new PersistenceArgumentError('options.dataDir', 'must be a non-empty string');
  const durability = opts.durability ?? STORE_DEFAULTS.durability;
  if (durability !== 'fsync' && durability !== 'process') {
    throw new PersistenceArgumentError('options.durability', `must be 'fsync' or 'process', got ${JSON.stringify(durability)}`);
  }
  try {
    const { db, release } = await openPGlite(dataDir, durability);
    return new PGliteDriver(db, true, release);
  } catch (err) {
    if (err instanceof StoreLockedError) throw err;
    throw new StoreUnavailableError(`could not open the PGlite database in ${JSON.stringify(dataDir)}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

async function prepareSchema(driver: SqlDriver, t: Tables, runMigrations: boolean, logger: Logger): Promise<void> {
  if (runMigrations) {
    await migrate(driver, t, logger);
    return;
  }
  let version = 0;
  try {
    const r = await driver.query(`SELECT coalesce(max(version), 0) FROM ${t.migrations}`);
    version = Number(r.rows[0]?.[0] ?? 0);
  } catch (err) {
    throw new MigrationError(`schema "${t.schema}" (prefix "${t.prefix}") has not been migrated and migrate is false`, { cause: err });
  }
  if (version < LATEST_VERSION) {
    throw new MigrationError(
      `schema "${t.schema}" (prefix "${t.prefix}") is at version ${version}, this library needs ${LATEST_VERSION}; run with migrate: true`,
    );
  }
}

/** Adds the projection offsets to a store (kept out of `assemble`'s long parameter list). */
function withOffsets(projectionOffsets: ProjectionOffsetStore, store: Omit<Store, 'projectionOffsets'>): Store {
  return Object.assign(store, { projectionOffsets });
}

function assemble(
  kind: StoreKind,
  lifecycle: Lifecycle,
  journal: Journal,
  snapshots: SnapshotStore,
  durableState: DurableStateStore,
  timers: TimerStore,
  recovery: RecoveryReader,
  release: () => Promise<void>,
): Omit<Store, 'projectionOffsets'> {
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    if (closing === undefined) {
      lifecycle.close();
      closing = release();
    }
    return closing;
  };
  return { kind, journal, snapshots, durableState, timers, recovery, close, [Symbol.asyncDispose]: close };
}
