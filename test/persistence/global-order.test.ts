// The journal's gap-free global order (issue 17, item 2) and tags: eventsAfter / eventsByTag /
// readGlobal / backlog on every backend, and on PostgreSQL the case readByOrdering gets wrong: a
// transaction that took a small ordering and committed after a later one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { compareOffsets, createStore, isBeamstateError, silentLogger, START_OFFSET, tailJournal } from '../../src/index.js';
import type { GlobalEvent, Store } from '../../src/index.js';
import { ManualClock } from '../../src/actors/clock.js';
import { MIGRATIONS } from '../../src/persistence/sql/migrations.js';
import { tables } from '../../src/persistence/sql/tables.js';
import { DATABASE_URL, freshId, openTestDatabase } from './support.js';
import type { TestDatabase } from './support.js';

const backends: { name: string; open: () => Promise<{ store: Store; close: () => Promise<void> }> }[] = [
  {
    name: 'memory',
    open: async () => {
      const store = await createStore({ kind: 'memory' });
      return { store, close: () => store.close() };
    },
  },
  {
    name: DATABASE_URL === undefined ? 'pglite' : 'postgres',
    open: async () => {
      const db = await openTestDatabase();
      return { store: await db.openStore(), close: () => db.close() };
    },
  },
];

for (const backend of backends) {
  describe(`global order on ${backend.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await backend.open());
    });
    afterAll(async () => {
      await close();
    });

    it('reads every event once in global order, continuing after the last offset, each id in sequence order', async () => {
      const start = await lastOffset(store);
      const a = freshId('ga');
      const b = freshId('gb');
      await store.journal.append(a, 0, [{ payload: 1 }, { payload: 2 }]);
      await store.journal.append(b, 0, [{ payload: 10 }]);
      await store.journal.append(a, 2, [{ payload: 3 }]);
      await visible(store, start, 4);
      const first = await store.journal.eventsAfter(start, 2);
      expect(first.map((e) => [e.persistenceId, e.sequenceNr])).toEqual([
        [a, 1],
        [a, 2],
      ]);
      const rest = await store.journal.eventsAfter((first[1] as GlobalEvent).offset);
      expect(rest.map((e) => [e.persistenceId, e.sequenceNr, e.payload])).toEqual([
        [b, 1, 10],
        [a, 3, 3],
      ]);
      const all = [...first, ...rest];
      for (let i = 1; i < all.length; i++) expect(compareOffsets((all[i - 1] as GlobalEvent).offset, (all[i] as GlobalEvent).offset)).toBeLessThan(0);
      expect(await store.journal.eventsAfter((rest[1] as GlobalEvent).offset)).toEqual([]);
    });

    it('stores tags with the event and reads them back by tag, filters by persistence-id prefix', async () => {
      const start = await lastOffset(store);
      const tag = freshId('tag');
      const a = `${freshId('TypeA')}|1`;
      const b = `${freshId('TypeB')}|1`;
      await store.journal.append(a, 0, [
        { payload: 'x', tags: [tag, 'other', tag] },
        { payload: 'y' },
      ]);
      await store.journal.append(b, 0, [{ payload: 'z', tags: [tag] }]);
      await visible(store, start, 3);
      const tagged = await store.journal.eventsByTag(tag, start);
      expect(tagged.map((e) => [e.persistenceId, e.sequenceNr, e.tags])).toEqual([
        [a, 1, [tag, 'other']],
        [b, 1, [tag]],
      ]);
      const untagged = (await store.journal.eventsAfter(start)).find((e) => e.persistenceId === a && e.sequenceNr === 2);
      expect(untagged?.tags).toEqual([]);
      const byPrefix = await store.journal.readGlobal({ afterOffset: start, persistenceIdPrefixes: [b.slice(0, -1)] });
      expect(byPrefix.map((e) => e.persistenceId)).toEqual([b]);
      const both = await store.journal.readGlobal({ afterOffset: start, tag, persistenceIdPrefixes: [a.slice(0, -1)] });
      expect(both.map((e) => [e.persistenceId, e.sequenceNr])).toEqual([[a, 1]]);
    });

    it('tells the backlog after an offset (count and oldest timestamp)', async () => {
      const start = await lastOffset(store);
      const tag = freshId('lag');
      const id = freshId('lag');
      const r = await store.journal.append(id, 0, [{ payload: 1, tags: [tag] }, { payload: 2 }, { payload: 3, tags: [tag] }]);
      expect(await store.journal.backlog({ afterOffset: start })).toEqual({ events: 3, oldestTimestamp: r.timestamp });
      expect(await store.journal.backlog({ afterOffset: start, tag })).toEqual({ events: 2, oldestTimestamp: r.timestamp });
      const last = await lastOffset(store);
      expect(await store.journal.backlog({ afterOffset: last })).toEqual({ events: 0, oldestTimestamp: undefined });
    });

    it('skips deleted events', async () => {
      const start = await lastOffset(store);
      const id = freshId('del');
      await store.journal.append(id, 0, [{ payload: 1 }, { payload: 2 }]);
      await store.journal.deleteTo(id, 1);
      await visible(store, start, 1);
      expect((await store.journal.eventsAfter(start)).map((e) => e.sequenceNr)).toEqual([2]);
    });

    it('rejects bad offsets, tags and limits with PERSISTENCE_INVALID_ARGUMENT naming the field', async () => {
      for (const bad of ['', '1', '1:x', '-1:0', '01:0', 5 as unknown as string, '99999999999999999:0']) {
        const err = await store.journal.eventsAfter(bad).catch((e: unknown) => e);
        expect(isBeamstateError(err, 'PERSISTENCE_INVALID_ARGUMENT'), String(bad)).toBe(true);
        expect((err as { field: string }).field).toBe('afterOffset');
      }
      for (const tags of [[''], ['a\u001fb'], 'x', [1], Array.from({ length: 33 }, (_, i) => `t${i}`)]) {
        const err = await store.journal.append(freshId('badtag'), 0, [{ payload: 1, tags: tags as string[] }]).catch((e: unknown) => e);
        expect(isBeamstateError(err, 'PERSISTENCE_INVALID_ARGUMENT'), JSON.stringify(tags)).toBe(true);
        expect((err as { field: string }).field).toMatch(/^events\[0\]\.tags/);
      }
      expect(isBeamstateError(await store.journal.eventsByTag('', START_OFFSET).catch((e: unknown) => e), 'PERSISTENCE_INVALID_ARGUMENT')).toBe(true);
      expect(isBeamstateError(await store.journal.eventsAfter(START_OFFSET, 0).catch((e: unknown) => e), 'PERSISTENCE_INVALID_ARGUMENT')).toBe(true);
    });

    it('a tail hands over each new event once, woken by commits in this process, and stops', async () => {
      const clock = new ManualClock(); // the poll timer fires only when advanced: commits wake the tail
      const start = await lastOffset(store);
      const id = freshId('tail');
      const seen: number[] = [];
      let wanted = 0;
      let reached: (() => void) | null = null;
      const tail = tailJournal(store.journal, {
        afterOffset: start,
        persistenceIdPrefixes: [id],
        clock,
        batchSize: 3,
        onEvents: (events) => {
          for (const e of events) seen.push(e.sequenceNr);
          if (seen.length >= wanted) reached?.();
        },
      });
      for (let n = 0; n < 10; n++) {
        wanted = n + 1;
        const got = new Promise<void>((r) => (reached = r));
        await store.journal.append(id, n, [{ payload: n }]);
        if (backend.name !== 'postgres') await got;
        else {
          // On a shared server another session's transaction may hold the event back past the
          // commit that woke the tail: then the poll timer brings it.
          let done = false;
          void got.then(() => (done = true));
          for (let i = 0; i < 100_000 && !done; i++) {
            clock.advance(50);
            await new Promise((r) => setImmediate(r));
          }
        }
      }
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      await tail.stop();
      await tail.done;
      const last = (await store.journal.readGlobal({ afterOffset: start, persistenceIdPrefixes: [id] })).at(-1) as GlobalEvent;
      expect(tail.offset).toBe(last.offset);
    });
  });
}

describe('migration 3 on a journal that already holds events', () => {
  it('gives the old events the migration\'s transaction id: they come first, in ordering order, then new ones', async () => {
    const db = await openTestDatabase();
    try {
      const t = tables(db.schema, 'beamstate_');
      // The schema as version 2 left it, with events written by then.
      await db.admin(`CREATE SCHEMA "${db.schema}"`);
      await db.admin(`CREATE TABLE ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const m of MIGRATIONS.filter((x) => x.version <= 2)) {
        for (const statement of m.statements(t)) await db.admin(statement);
        await db.admin(`INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      }
      const old = await db.openStore({ migrate: false }).catch((e: unknown) => e);
      expect(isBeamstateError(old, 'MIGRATION_FAILED')).toBe(true); // too old for this library
      for (const [pid, seq] of [['old-b', 1], ['old-a', 1], ['old-b', 2]] as const) {
        await db.admin(`INSERT INTO ${t.journalMeta} (persistence_id, highest_sequence_nr) VALUES ($1, $2) ON CONFLICT (persistence_id) DO UPDATE SET highest_sequence_nr = $2`, [pid, seq]);
        await db.admin(
          `INSERT INTO ${t.journal} (persistence_id, sequence_nr, event_type, payload, written_at, batch_id) VALUES ($1, $2, '', '\\xc0', 0, '00000000-0000-0000-0000-000000000000')`,
          [pid, seq],
        );
      }
      const store = await db.openStore(); // migrates
      await store.journal.append('old-a', 1, [{ payload: 'new' }]);
      await visible(store, START_OFFSET, 4);
      const all = await store.journal.eventsAfter(START_OFFSET);
      expect(all.map((e) => [e.persistenceId, e.sequenceNr])).toEqual([
        ['old-b', 1],
        ['old-a', 1],
        ['old-b', 2],
        ['old-a', 2],
      ]);
      expect(new Set(all.slice(0, 3).map((e) => e.offset.split(':')[0])).size).toBe(1);
    } finally {
      await db.close();
    }
  });
});

describe('global order across transaction ids of different lengths (PGlite)', () => {
  it('sorts by the transaction id as a number, not as text (an id of 1000 comes after 999)', async () => {
    const db = await openTestDatabase('pglite');
    try {
      const store = await db.openStore();
      const id = freshId('digits');
      // Events in transactions with ids of n digits, then (ids burnt by empty transactions) of n + 1.
      let seq = 0;
      for (let i = 0; i < 3; i++) await store.journal.append(id, seq, [{ payload: ++seq }]);
      const txOf = async (): Promise<number> => Number((await db.admin('SELECT pg_current_xact_id()::text::int8 AS tx'))[0]?.tx);
      const first = await txOf();
      const boundary = 10 ** String(first).length;
      // One transaction id per loop turn (COMMIT in a DO block ends the turn's transaction).
      await db.admin(`DO $$ BEGIN FOR i IN 1..${boundary - first + 1} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`);
      for (let i = 0; i < 3; i++) await store.journal.append(id, seq, [{ payload: ++seq }]);
      expect(await txOf()).toBeGreaterThan(boundary);
      const read: GlobalEvent[] = [];
      let offset = START_OFFSET;
      for (;;) {
        const page = await store.journal.eventsAfter(offset, 50);
        if (page.length === 0) break;
        read.push(...page);
        offset = (page[page.length - 1] as GlobalEvent).offset;
      }
      expect(read.map((e) => e.sequenceNr)).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    } finally {
      await db.close();
    }
  });
});

/**
 * Waits (bounded, no clock) until `n` events after `start` are readable: on a shared server another
 * session's transaction, begun before ours committed, holds them back until it ends.
 */
async function visible(store: Store, start: string, n: number): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if ((await store.journal.eventsAfter(start, n)).length >= n) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting for ${n} events to be readable`);
}

/** The offset after every committed event (waiting, bounded, for any still held back to become readable). */
async function lastOffset(store: Store): Promise<string> {
  let offset = START_OFFSET;
  for (let i = 0; i < 100_000; i++) {
    const page = await store.journal.eventsAfter(offset, 1000);
    if (page.length > 0) offset = (page[page.length - 1] as GlobalEvent).offset;
    else if ((await store.journal.backlog({ afterOffset: offset })).events === 0) return offset;
    else await new Promise((r) => setImmediate(r));
  }
  throw new Error('gave up waiting for the journal to settle');
}

describe.skipIf(DATABASE_URL === undefined)('a transaction that commits out of order (PostgreSQL; skipped without DATABASE_URL)', () => {
  let db: TestDatabase;
  let store: Store;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await openTestDatabase();
    store = await db.openStore();
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  });
  afterAll(async () => {
    await pool.end();
    await db.close();
  });

  it('holds later commits back until it ends, then delivers its events before theirs; readByOrdering would have skipped them', async () => {
    const start = await lastOffset(store);
    const slow = freshId('slow');
    const fast = freshId('fast');
    const t = `"${db.schema}"."beamstate_journal"`;
    const meta = `"${db.schema}"."beamstate_journal_meta"`;
    const client = await pool.connect();
    try {
      // A slow append: takes its ordering now, commits after the fast one.
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${meta} (persistence_id, highest_sequence_nr) VALUES ($1, 1)`, [slow]);
      await client.query(
        `INSERT INTO ${t} (persistence_id, sequence_nr, event_type, payload, written_at, batch_id) VALUES ($1, 1, '', '\\x01', 0, gen_random_uuid())`,
        [slow],
      );
      await store.journal.append(fast, 0, [{ payload: 'fast' }]);
      const fastOrdering = (await store.journal.read(fast))[0]?.ordering as number;
      // The fast event is committed but not readable in the global order yet.
      expect((await store.journal.eventsAfter(start)).map((e) => e.persistenceId)).not.toContain(fast);
      await client.query('COMMIT');
      // By ordering, a reader that had read up to the fast event would never see the slow one.
      expect((await store.journal.readByOrdering({ afterOrdering: fastOrdering })).map((e) => e.persistenceId)).not.toContain(slow);
      await visible(store, start, 2);
      const after = (await store.journal.eventsAfter(start)).map((e) => e.persistenceId);
      expect(after).toEqual([slow, fast]);
    } finally {
      client.release();
    }
  });
});
