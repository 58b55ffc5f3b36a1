// Claiming timers by shard (a cluster node fires only the timers of the shards it owns): each
// store claims exactly the timers of entities whose `shardOf(type|id)` is owned, and the
// PL/pgSQL hash that migration 5 backfills old rows with is the JavaScript one (fast-check,
// every kind of string, astral characters included).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { shardOf } from '../../src/cluster/shard-hash.js';
import { createStore, type Store } from '../../src/persistence/index.js';
import { keyHash, keyHashBackfill } from '../../src/persistence/key-hash.js';
import { openTestDatabase, type TestDatabase } from './support.js';

const T = Date.UTC(2030, 0, 1);

async function scheduleOn(store: Store, type: string, ids: readonly string[]): Promise<void> {
  for (const [i, id] of ids.entries()) {
    await store.timers.write(`${type}|${id}`, {
      entityType: type,
      entityId: id,
      changes: [{ kind: 'schedule', name: 'x', dueAt: T + i, everyMs: 0, command: 'fire', payload: i, scheduleId: `s${i}` }],
    });
  }
}

function contract(label: string, open: () => Promise<Store>, close: () => Promise<void>): void {
  describe(`claims by shard (${label})`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(close);

    it('claims exactly the due timers of the owned shards, earliest first; next due is among them', async () => {
      const type = `sh${Math.random().toString(36).slice(2, 8)}`;
      const ids = Array.from({ length: 60 }, (_, i) => `e${i}-é😀`);
      await scheduleOn(store, type, ids);
      // Rescheduling keeps the row's hash (the upsert path).
      await scheduleOn(store, type, ids.slice(0, 5));
      const shards = { count: 8, owned: [0, 3, 5] };
      const mine = ids.filter((id) => shards.owned.includes(shardOf(`${type}|${id}`, shards.count)));
      expect(mine.length).toBeGreaterThan(5);
      expect(mine.length).toBeLessThan(ids.length);
      const first = ids.findIndex((id) => mine.includes(id));
      expect(await store.timers.nextFireAt([type], shards)).toBe(T + first);
      expect(await store.timers.nextFireAt([type])).toBe(T);
      expect(await store.timers.claimDue({ now: T + 100, leaseMs: 1000, claim: 'none', max: 100, entityTypes: [type], shards: { count: 8, owned: [] } })).toEqual([]);
      const claimed = await store.timers.claimDue({ now: T + 100, leaseMs: 1000, claim: 'c1', max: 100, entityTypes: [type], shards });
      expect(claimed.map((c) => c.entityId).sort()).toEqual([...mine].sort());
      expect(claimed.map((c) => c.dueAt)).toEqual([...claimed.map((c) => c.dueAt)].sort((a, b) => a - b));
      // The others are still there for their owners; the claimed ones are not due again.
      const rest = await store.timers.claimDue({ now: T + 100, leaseMs: 1000, claim: 'c2', max: 100, entityTypes: [type] });
      expect(rest.map((c) => c.entityId).sort()).toEqual(ids.filter((id) => !mine.includes(id)).sort());
      expect(await store.timers.nextFireAt([type], { count: 8, owned: [] })).toBeUndefined();
    });
  });
}

contract(
  'memory',
  () => createStore({ kind: 'memory' }),
  async () => {},
);

let pgliteDb: TestDatabase;
contract(
  'PGlite',
  async () => {
    pgliteDb = await openTestDatabase('pglite');
    return pgliteDb.openStore();
  },
  () => pgliteDb.close(),
);

describe('the shard hash in SQL (migration 5 backfill, PGlite)', () => {
  let db: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    db = await openTestDatabase('pglite');
    store = await db.openStore();
  });
  afterAll(() => db.close());

  it('fills shard_hash with keyHash(type|id) for any ids (BMP, astral, quotes)', async () => {
    const table = `"${db.schema}".beamstate_timers`;
    await fc.assert(
      fc.asyncProperty(
        // PostgreSQL text holds no NUL and no lone surrogate (not UTF-8): those ids cannot be stored.
        fc.uniqueArray(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\u0000')), { minLength: 1, maxLength: 8 }),
        async (ids) => {
          await db.admin(`DELETE FROM ${table}`);
          await scheduleOn(store, 'h', ids);
          await db.admin(`UPDATE ${table} SET shard_hash = -1`);
          await db.admin(keyHashBackfill(table, 'shard_hash', `entity_type || '|' || entity_id`, ['persistence_id', 'name']));
          const rows = await db.admin(`SELECT entity_id, shard_hash FROM ${table}`);
          expect(rows.length).toBe(ids.length);
          for (const r of rows) expect(Number(r.shard_hash), JSON.stringify(r.entity_id)).toBe(keyHash(`h|${r.entity_id as string}`));
        },
      ),
      { numRuns: 25 },
    );
  });
});

let pgDb: TestDatabase;
if (process.env.DATABASE_URL !== undefined) {
  contract(
    'PostgreSQL',
    async () => {
      pgDb = await openTestDatabase();
      return pgDb.openStore();
    },
    () => pgDb.close(),
  );
}
