// Test databases for the persistence tests. With DATABASE_URL set, a real PostgreSQL server with a
// schema unique to the test file (dropped afterwards); without it, an in-memory PGlite. Each
// test file opens one in beforeAll and closes it in afterAll.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { silentLogger } from '../../src/index.js';
import { createStore } from '../../src/persistence/index.js';
import type { SqlStoreOptions, Store, StoreOptions } from '../../src/persistence/index.js';

export const DATABASE_URL = process.env.DATABASE_URL;

/** A raw query for assertions, rows as objects. */
export type AdminQuery = (text: string, values?: unknown[]) => Promise<Record<string, unknown>[]>;

export interface TestDatabase {
  readonly kind: 'postgres' | 'pglite';
  /** A schema no other test run uses. */
  readonly schema: string;
  /** Options for a store on this database and schema; `extra` may override any of them. */
  storeOptions(extra?: Partial<SqlStoreOptions>): StoreOptions;
  /** Opens a store with `storeOptions(extra)`; closed by `close()` if still open. */
  openStore(extra?: Partial<SqlStoreOptions>): Promise<Store>;
  readonly admin: AdminQuery;
  /** Closes stores opened here, drops the schema, closes the database. */
  close(): Promise<void>;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** PostgreSQL when DATABASE_URL is set (or `forceKind` says so), otherwise PGlite in memory. */
export async function openTestDatabase(forceKind?: 'pglite'): Promise<TestDatabase> {
  const schema = uniqueName('bst');
  const stores: Store[] = [];
  const track = async (options: StoreOptions): Promise<Store> => {
    const store = await createStore(options);
    stores.push(store);
    return store;
  };
  const closeStores = async (): Promise<void> => {
    await Promise.all(stores.map((s) => s.close()));
  };
  if (DATABASE_URL !== undefined && forceKind !== 'pglite') {
    const url = DATABASE_URL;
    const adminPool = new pg.Pool({ connectionString: url, max: 2 });
    adminPool.on('error', () => {}); // fault tests terminate sessions; only the stores' pools are targeted
    const storeOptions = (extra?: Partial<SqlStoreOptions>): StoreOptions => ({
      kind: 'postgres',
      connectionString: url,
      schema,
      // Silent: fault tests lose connections on purpose, and the default logger would print each loss.
      logger: silentLogger,
      ...extra,
    });
    return {
      kind: 'postgres',
      schema,
      storeOptions,
      openStore: (extra) => track(storeOptions(extra)),
      admin: async (text, values) => (await adminPool.query(text, values)).rows as Record<string, unknown>[],
      async close() {
        await closeStores();
        await adminPool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await adminPool.end();
      },
    };
  }
  const db = await PGlite.create('memory://');
  const storeOptions = (extra?: Partial<SqlStoreOptions>): StoreOptions => ({ kind: 'pglite', db, schema, logger: silentLogger, ...extra });
  return {
    kind: 'pglite',
    schema,
    storeOptions,
    openStore: (extra) => track(storeOptions(extra)),
    admin: async (text, values) => (await db.query<Record<string, unknown>>(text, values)).rows,
    async close() {
      await closeStores();
      await db.close();
    },
  };
}

/** Counter-based ids, unique within a test file. */
let counter = 0;
export function freshId(label = 'pid'): string {
  counter++;
  return `${label}-${counter}-${randomBytes(3).toString('hex')}`;
}

/** Settles all promises and splits them into fulfilled values and rejection reasons. */
export async function settle<T>(promises: readonly Promise<T>[]): Promise<{ ok: T[]; failed: unknown[] }> {
  const results = await Promise.allSettled(promises);
  const ok: T[] = [];
  const failed: unknown[] = [];
  for (const r of results) {
    if (r.status === 'fulfilled') ok.push(r.value);
    else failed.push(r.reason);
  }
  return { ok, failed };
}
