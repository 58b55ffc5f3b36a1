import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../../src/persistence/index.js';
import type { Store } from '../../src/persistence/index.js';
import { LATEST_VERSION, MIGRATIONS } from '../../src/persistence/sql/migrations.js';
import type { Logger } from '../../src/logger.js';
import { isBeamstateError } from '../../src/errors.js';
import { openTestDatabase, uniqueName } from './support.js';
import type { TestDatabase } from './support.js';

function countingLogger(): Logger & { count: (msg: string) => number } {
  const seen: string[] = [];
  const logger: Logger & { count: (msg: string) => number } = {
    count: (msg) => seen.filter((m) => m === msg).length,
    debug: (_o, m) => void seen.push(m ?? ''),
    info: (_o, m) => void seen.push(m ?? ''),
    warn: (_o, m) => void seen.push(m ?? ''),
    error: (_o, m) => void seen.push(m ?? ''),
    child: () => logger,
  };
  return logger;
}

describe('migrations', () => {
  let db: TestDatabase;
  const schemas: string[] = [];
  const freshSchema = (): string => {
    const s = uniqueName('bsm');
    schemas.push(s);
    return s;
  };
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    for (const s of schemas) await db.admin(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await db.close();
  });

  it('are numbered 1, 2, … without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1));
  });

  it('create the schema and tables, and running them again is a no-op', async () => {
    const schema = freshSchema();
    const logger = countingLogger();
    const first = await createStore(db.storeOptions({ schema, logger }));
    await first.journal.append('p', 0, [{ payload: 1 }]);
    await first.close();
    expect(logger.count('applying migration')).toBe(LATEST_VERSION);
    const before = await db.admin(`SELECT version, applied_at FROM "${schema}".beamstate_migrations ORDER BY version`);
    expect(before.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));

    for (let i = 0; i < 2; i++) {
      const again = await createStore(db.storeOptions({ schema, logger }));
      expect(await again.journal.highestSequenceNr('p')).toBe(1);
      await again.close();
    }
    expect(logger.count('applying migration')).toBe(LATEST_VERSION);
    expect(await db.admin(`SELECT version, applied_at FROM "${schema}".beamstate_migrations ORDER BY version`)).toEqual(before);
    const tables = await db.admin('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema]);
    expect(tables.map((r) => r.table_name)).toEqual([
      'beamstate_durable_state',
      'beamstate_journal',
      'beamstate_journal_meta',
      'beamstate_migrations',
      'beamstate_projection_offsets',
      'beamstate_snapshots',
      'beamstate_timer_dead_letters',
      'beamstate_timers',
    ]);
  });

  it('bring a schema at an older version up to date, applying only what is missing', async () => {
    const schema = freshSchema();
    await (await createStore(db.storeOptions({ schema }))).close();
    // Roll the schema back to version 1 by hand.
    await db.admin(`ALTER TABLE "${schema}".beamstate_snapshots DROP COLUMN write_id`);
    await db.admin(`ALTER TABLE "${schema}".beamstate_durable_state DROP COLUMN write_id`);
    await db.admin(`ALTER TABLE "${schema}".beamstate_journal DROP COLUMN tx_id, DROP COLUMN tags`);
    await db.admin(`DROP TABLE "${schema}".beamstate_projection_offsets, "${schema}".beamstate_timers, "${schema}".beamstate_timer_dead_letters`);
    await db.admin(`DELETE FROM "${schema}".beamstate_migrations WHERE version > 1`);
    const logger = countingLogger();
    const store = await createStore(db.storeOptions({ schema, logger }));
    try {
      expect(logger.count('applying migration')).toBe(LATEST_VERSION - 1);
      await store.durableState.upsert('s', 0, 'works');
      await store.snapshots.save('s', 1, 'works');
      const versions = await db.admin(`SELECT version FROM "${schema}".beamstate_migrations ORDER BY version`);
      expect(versions.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await store.close();
    }
  });

  it('succeed for every one of several stores created at once on a new schema', async () => {
    const schema = freshSchema();
    const logger = countingLogger();
    const stores = await Promise.all(Array.from({ length: 4 }, () => createStore(db.storeOptions({ schema, logger }))));
    try {
      expect(logger.count('applying migration')).toBe(LATEST_VERSION);
      await stores[0]?.journal.append('shared', 0, [{ payload: 'x' }]);
      for (const s of stores) expect(await s.journal.highestSequenceNr('shared')).toBe(1);
      const versions = await db.admin(`SELECT version FROM "${schema}".beamstate_migrations`);
      expect(versions).toHaveLength(LATEST_VERSION);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('keep stores with different table prefixes or schemas apart in one database', async () => {
    const schema = freshSchema();
    const other = freshSchema();
    const a = await createStore(db.storeOptions({ schema, tablePrefix: 'system_a_' }));
    const b = await createStore(db.storeOptions({ schema, tablePrefix: 'system_b_' }));
    const c = await createStore(db.storeOptions({ schema: other, tablePrefix: 'system_a_' }));
    try {
      await a.journal.append('same-id', 0, [{ payload: 'a' }]);
      await b.journal.append('same-id', 0, [{ payload: 'b1' }, { payload: 'b2' }]);
      await a.durableState.upsert('same-id', 0, 'state a');
      expect((await a.journal.read('same-id')).map((e) => e.payload)).toEqual(['a']);
      expect((await b.journal.read('same-id')).map((e) => e.payload)).toEqual(['b1', 'b2']);
      expect(await c.journal.highestSequenceNr('same-id')).toBe(0);
      expect(await b.durableState.get('same-id')).toBeUndefined();
      // Each prefix keeps its own migration record.
      const prefixed = await db.admin(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE '%migrations'`, [schema]);
      expect(prefixed.map((r) => r.table_name).sort()).toEqual(['system_a_migrations', 'system_b_migrations']);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('with migrate: false, refuse a schema that is not up to date and accept one that is', async () => {
    const schema = freshSchema();
    const err = await createStore(db.storeOptions({ schema, migrate: false })).catch((e: unknown) => e);
    expect(isBeamstateError(err, 'MIGRATION_FAILED')).toBe(true);
    await (await createStore(db.storeOptions({ schema }))).close();
    const store: Store = await createStore(db.storeOptions({ schema, migrate: false }));
    await store.journal.append('p', 0, [{ payload: 1 }]);
    await store.close();
  });

  it('warn, and still work, when the schema is newer than this library', async () => {
    const schema = freshSchema();
    await (await createStore(db.storeOptions({ schema }))).close();
    await db.admin(`INSERT INTO "${schema}".beamstate_migrations (version, name) VALUES ($1, 'from the future')`, [LATEST_VERSION + 1]);
    const logger = countingLogger();
    const store = await createStore(db.storeOptions({ schema, logger }));
    expect(logger.count('the schema is newer than this version of beamstate knows')).toBe(1);
    expect(logger.count('applying migration')).toBe(0);
    await store.close();
  });
});
