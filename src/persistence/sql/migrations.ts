import type { Logger } from '../../logger.js';
import { MigrationError } from '../errors.js';
import type { SqlDriver, SqlQuery } from './driver.js';
import type { Tables } from './tables.js';
import { hash } from './tables.js';
import { BeamstateError } from '../../errors.js';
import { keyHashBackfill } from '../key-hash.js';

/**
 * Versioned schema migrations, run by the library itself when a store is created. Each version
 * runs once per schema + prefix, recorded in the `migrations` table; all pending versions run in
 * one transaction under an advisory lock, so two processes starting at once cannot both apply
 * one, and a failed migration leaves nothing half done.
 *
 * Migrations are append-only: a released version is never edited, a change is a new version.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: (t: Tables) => readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'journal, journal metadata, snapshots, durable state',
    statements: (t) => [
      // Events. The primary key serves replay; `ordering` is the global position (for tailing
      // across ids later); `batch_id` identifies the commit, so an interrupted commit can be
      // read back. Timestamps are milliseconds since the epoch, as the API returns them.
      // Ids are compared bytewise (COLLATE "C"): every index probe and insert compares them, a
      // linguistic collation would only make that slower, and no one sorts ids for humans.
      `CREATE TABLE ${t.journal} (
        ordering bigint GENERATED ALWAYS AS IDENTITY,
        persistence_id text COLLATE "C" NOT NULL,
        sequence_nr bigint NOT NULL,
        event_type text NOT NULL,
        payload bytea NOT NULL,
        metadata bytea,
        written_at bigint NOT NULL,
        batch_id uuid NOT NULL,
        PRIMARY KEY (persistence_id, sequence_nr)
      )`,
      `CREATE UNIQUE INDEX "${t.journalName}_ordering_idx" ON ${t.journal} (ordering)`,
      // One row per id: the highest sequence number, advanced by compare-and-set in the append
      // statement. It survives deleteTo. Updates do not touch an index, so with free space on
      // the page (fillfactor) they are HOT updates.
      `CREATE TABLE ${t.journalMeta} (
        persistence_id text COLLATE "C" PRIMARY KEY,
        highest_sequence_nr bigint NOT NULL
      ) WITH (fillfactor = 80)`,
      `CREATE TABLE ${t.snapshots} (
        persistence_id text COLLATE "C" NOT NULL,
        sequence_nr bigint NOT NULL,
        created_at bigint NOT NULL,
        snapshot_type text NOT NULL,
        payload bytea NOT NULL,
        metadata bytea,
        PRIMARY KEY (persistence_id, sequence_nr)
      )`,
      `CREATE TABLE ${t.durableState} (
        persistence_id text COLLATE "C" PRIMARY KEY,
        revision bigint NOT NULL,
        state_type text NOT NULL,
        payload bytea NOT NULL,
        updated_at bigint NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    name: 'write ids on snapshots and durable state',
    statements: (t) => [
      // Which write put the row there, so a write whose commit was interrupted can be read back.
      `ALTER TABLE ${t.snapshots} ADD COLUMN write_id uuid`,
      `ALTER TABLE ${t.durableState} ADD COLUMN write_id uuid`,
    ],
  },
  {
    version: 3,
    name: 'global order (transaction ids), event tags, projection offsets',
    statements: (t) => [
      // The writing transaction's id: the gap-free global order is (tx_id, ordering), read only
      // below the current snapshot's xmin (see global-order.ts). Rows already there get the
      // migration's own id, so they come first, in ordering order.
      `ALTER TABLE ${t.journal} ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id()`,
      `CREATE INDEX "${t.journalName}_tx_order_idx" ON ${t.journal} (tx_id, ordering)`,
      // Tags; NULL for none, so untagged events cost the tag index nothing.
      `ALTER TABLE ${t.journal} ADD COLUMN tags text[]`,
      `CREATE INDEX "${t.journalName}_tags_idx" ON ${t.journal} USING gin (tags) WHERE tags IS NOT NULL`,
      // Where each projection has got to, in the global order.
      `CREATE TABLE ${t.projectionOffsets} (
        name text COLLATE "C" PRIMARY KEY,
        tx_id bigint NOT NULL,
        ordering bigint NOT NULL,
        updated_at bigint NOT NULL
      )`,
    ],
  },
  {
    version: 4,
    name: 'durable timers and their dead letters',
    statements: (t) => [
      // One row per (entity, timer name), written in the transaction of the command that
      // scheduled it. `due_at` is the occurrence being delivered (stable across retries: it is in
      // the delivery id); `fire_at` is when it may next be claimed (its due time, a retry's, or
      // the end of a claim's lease), the one column the claim searches. `claim` is the claimer's
      // token: completing or retrying is conditional on it. Times are epoch ms from the runtime's clock.
      `CREATE TABLE ${t.timers} (
        persistence_id text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        entity_type text COLLATE "C" NOT NULL,
        entity_id text COLLATE "C" NOT NULL,
        schedule_id text NOT NULL,
        due_at bigint NOT NULL,
        every_ms bigint NOT NULL,
        fire_at bigint NOT NULL,
        attempts integer NOT NULL,
        claim text,
        command text NOT NULL,
        payload bytea NOT NULL,
        created_at bigint NOT NULL,
        last_error text,
        PRIMARY KEY (persistence_id, name)
      ) WITH (fillfactor = 80)`,
      `CREATE INDEX "${t.prefix}timers_fire_at_idx" ON ${t.timers} (fire_at)`,
      `CREATE TABLE ${t.timerDeadLetters} (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        persistence_id text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        entity_type text NOT NULL,
        entity_id text NOT NULL,
        schedule_id text NOT NULL,
        due_at bigint NOT NULL,
        command text NOT NULL,
        payload bytea NOT NULL,
        attempts integer NOT NULL,
        last_error text NOT NULL,
        dead_at bigint NOT NULL
      )`,
    ],
  },
  {
    version: 5,
    name: 'durable timers: the shard hash of their entity',
    statements: (t) => [
      // keyHash(type|id): a cluster node claims only the timers of the shards it owns
      // (`shard_hash % shards = ANY(owned)`), whatever the shard count. Rows written before this
      // version are filled in here by the same hash in PL/pgSQL.
      `ALTER TABLE ${t.timers} ADD COLUMN shard_hash bigint`,
      keyHashBackfill(t.timers, 'shard_hash', `entity_type || '|' || entity_id`, ['persistence_id', 'name']),
      `ALTER TABLE ${t.timers} ALTER COLUMN shard_hash SET NOT NULL`,
    ],
  },
];

/** The schema version this library needs. */
export const LATEST_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);

// Advisory-lock key: a constant class ('beam') and a 32-bit hash of the schema. Per schema, not
// per prefix, because two prefixes may race to create the same schema.
const LOCK_CLASS = 0x6265616d;

export interface MigrationResult {
  /** Versions applied by this call (empty when the schema was already up to date). */
  readonly applied: readonly number[];
}

/** Brings the schema up to `LATEST_VERSION`. Idempotent; safe to run from several processes at once. */
export async function migrate(driver: SqlDriver, t: Tables, logger: Logger): Promise<MigrationResult> {
  try {
    return await driver.transaction((query) => migrateIn(query, t, logger));
  } catch (err) {
    if (err instanceof BeamstateError && err.code !== 'STORE_QUERY_FAILED') throw err;
    throw new MigrationError(
      `could not migrate schema "${t.schema}" (prefix "${t.prefix}"): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

async function migrateIn(query: SqlQuery, t: Tables, logger: Logger): Promise<MigrationResult> {
  await query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, Number.parseInt(hash(t.schema), 16) | 0]);
  // Checked first because CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the database
  // even when the schema exists.
  const schemaExists = await query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [t.schema]);
  if (schemaExists.rows.length === 0) await query(`CREATE SCHEMA "${t.schema}"`);
  await query(
    `CREATE TABLE IF NOT EXISTS ${t.migrations} (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`,
  );
  const done = new Set((await query(`SELECT version FROM ${t.migrations}`)).rows.map((r) => Number(r[0])));
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    logger.info({ version: m.version, name: m.name, schema: t.schema, prefix: t.prefix }, 'applying migration');
    for (const statement of m.statements(t)) await query(statement);
    await query(`INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    applied.push(m.version);
  }
  const newest = Math.max(0, ...done);
  if (newest > LATEST_VERSION) {
    logger.warn(
      { schemaVersion: newest, libraryVersion: LATEST_VERSION, schema: t.schema, prefix: t.prefix },
      'the schema is newer than this version of beamstate knows',
    );
  }
  return { applied };
}
