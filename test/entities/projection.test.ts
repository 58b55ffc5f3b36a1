// Projections (issue 17, item 3): supervised readers of the global order that resume from their
// stored offset; exactly once into the store's database on PostgreSQL/PGlite (the read model equals
// the fold of the journal after random crashes, never double counted), at least once on memory;
// lag exposed; ctx.emit tags.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import { eventSourcedEntity, isBeamstateError, START_OFFSET } from '../../src/index.js';
import type { GlobalEvent, Projection, Store } from '../../src/index.js';
import { harness, openStore, type Harness } from './support.js';
import { DATABASE_URL, uniqueName } from '../persistence/support.js';

type Added = { readonly type: 'Added'; readonly n: number };
const account = eventSourcedEntity('account')
  .initialState(() => 0)
  .events<Added>({ Added: (s, e) => s + e.n })
  .command('add', z.object({ n: z.number().int() }), (_s, { n }, ctx) =>
    ctx.emit({ type: 'Added', n }, { tags: n % 2 === 0 ? ['even', 'money'] : ['money'] }).thenReply((s) => s),
  );
const other = eventSourcedEntity('other')
  .initialState(() => 0)
  .events<Added>({ Added: (s, e) => s + e.n })
  .command('add', z.object({ n: z.number().int() }), (_s, { n }, ctx) => ctx.emit({ type: 'Added', n }).thenReply((s) => s));

/** Lets the projection run until `done()`: advances the manual clock (poll timer, restart backoff) and yields to I/O. Bounded. */
async function until(h: Harness | Harness[], done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const all = Array.isArray(h) ? h : [h];
  for (let i = 0; i < 2000; i++) {
    if (await done()) return;
    for (const x of all) x.clock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function caughtUp(h: Harness, p: Projection): Promise<void> {
  await until(h, async () => (await p.lag()).events === 0, `${p.name} to catch up`);
}

/** The fold of the journal: the sum of `n` per entity id, for ids of type `account`. */
async function foldJournal(store: Store): Promise<Map<string, number>> {
  const sums = new Map<string, number>();
  let offset = START_OFFSET;
  for (;;) {
    const page = await store.journal.eventsAfter(offset, 1000);
    if (page.length === 0) return sums;
    for (const e of page) {
      if (e.persistenceId.startsWith('account|')) sums.set(e.persistenceId, (sums.get(e.persistenceId) ?? 0) + (e.payload as Added).n);
    }
    offset = (page[page.length - 1] as GlobalEvent).offset;
  }
}

describe('ctx.emit tags', () => {
  it('stores the tags with the events, readable with eventsByTag', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(account);
    await h.runtime.ref(account, 'a').ask('add', { n: 2 });
    await h.runtime.ref(account, 'a').ask('add', { n: 3 });
    const even = await store.journal.eventsByTag('even', START_OFFSET);
    expect(even.map((e) => [e.persistenceId, e.sequenceNr, e.tags])).toEqual([['account|a', 1, ['even', 'money']]]);
    expect((await store.journal.eventsByTag('money', START_OFFSET)).length).toBe(2);
  });

  it('a bad tag fails the command with PERSIST_FAILED (cause PERSISTENCE_INVALID_ARGUMENT) and writes nothing', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const tagged = eventSourcedEntity('tagged')
      .initialState(() => 0)
      .events<Added>({ Added: (s) => s })
      .command('bad', (_s, _i, ctx) => ctx.emit({ type: 'Added', n: 1 }, { tags: ['a\u0000b'] }).thenReply(() => 0));
    h.runtime.register(tagged);
    const bad = await h.runtime.ref(tagged, 't').ask('bad').catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'PERSIST_FAILED', cause: expect.objectContaining({ code: 'PERSISTENCE_INVALID_ARGUMENT' }) });
    expect(await store.journal.highestSequenceNr('tagged|t')).toBe(0);
  });
});

describe('projection options', () => {
  it('rejects a bad source, name, delivery or handler with INVALID_DEFINITION / PERSISTENCE_INVALID_ARGUMENT', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const handler = (): void => {};
    const cases: [string, () => unknown, string][] = [
      ['no source', () => h.runtime.projection('p1', { source: {}, handler, delivery: 'at-least-once' }), 'INVALID_DEFINITION'],
      ['empty types', () => h.runtime.projection('p2', { source: { entityTypes: [] }, handler, delivery: 'at-least-once' }), 'INVALID_DEFINITION'],
      ['bad tag', () => h.runtime.projection('p3', { source: { tag: '' }, handler, delivery: 'at-least-once' }), 'INVALID_DEFINITION'],
      ['exactly once on memory', () => h.runtime.projection('p4', { source: { tag: 'x' }, handler, delivery: 'exactly-once' }), 'INVALID_DEFINITION'],
      ['no handler', () => h.runtime.projection('p5', { source: { tag: 'x' }, delivery: 'at-least-once' }), 'INVALID_DEFINITION'],
      ['bad name', () => h.runtime.projection('a b', { source: { tag: 'x' }, handler, delivery: 'at-least-once' }), 'PERSISTENCE_INVALID_ARGUMENT'],
    ];
    for (const [what, start, code] of cases) {
      let err: unknown;
      try {
        start();
      } catch (e) {
        err = e;
      }
      expect(isBeamstateError(err, code), what).toBe(true);
    }
  });
});

describe('an at-least-once projection (memory store)', () => {
  it('handles every event of its source once when nothing crashes, resumes after a restart from the saved offset, tells its lag', async () => {
    const { store } = await openStore('memory');
    let h = await harness(store);
    h.runtime.register(account);
    h.runtime.register(other);
    const seen: string[] = [];
    const start = (hh: Harness): Projection =>
      hh.runtime.projection('accounts', { source: { entityTypes: [account] }, delivery: 'at-least-once', handler: (e) => void seen.push(`${e.persistenceId}#${e.sequenceNr}`) });
    let p = start(h);
    for (let i = 1; i <= 5; i++) await h.runtime.ref(account, `a${i % 2}`).ask('add', { n: i });
    await h.runtime.ref(other, 'o').ask('add', { n: 100 });
    await caughtUp(h, p);
    expect(seen.sort()).toEqual(['account|a0#1', 'account|a0#2', 'account|a1#1', 'account|a1#2', 'account|a1#3']);
    expect(p.stats()).toMatchObject({ name: 'accounts', delivery: 'at-least-once', eventsProcessed: 5, restarts: 0, running: true });
    expect(await p.lag()).toEqual({ events: 0, seconds: 0 });
    await p.stop();
    expect(p.stats().running).toBe(false);
    // Events written while it is stopped show as lag, then are handled after it starts again.
    await h.runtime.ref(account, 'a9').ask('add', { n: 1 });
    expect((await p.lag()).events).toBe(1);
    h = await h.restart();
    h.runtime.register(account);
    p = start(h);
    await caughtUp(h, p);
    expect(seen).toContain('account|a9#1');
    expect(seen.length).toBe(6);
  });
});

describe('handleBatch', () => {
  it('gets the events in batches of at most batchSize, in global order, each once', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(account);
    const batches: string[][] = [];
    const p = h.runtime.projection('batches', {
      source: { tag: 'money' },
      delivery: 'at-least-once',
      batchSize: 3,
      handleBatch: (events) => void batches.push(events.map((e) => `${e.persistenceId}#${e.sequenceNr}`)),
    });
    for (let i = 0; i < 7; i++) await h.runtime.ref(account, `b${i % 2}`).ask('add', { n: i });
    await caughtUp(h, p);
    expect(batches.every((b) => b.length >= 1 && b.length <= 3)).toBe(true);
    const all = batches.flat();
    expect(new Set(all).size).toBe(7);
    expect(all.filter((k) => k.startsWith('account|b0'))).toEqual(['account|b0#1', 'account|b0#2', 'account|b0#3', 'account|b0#4']);
    expect(p.stats().eventsProcessed).toBe(7);
  });

  it('is refused together with handler, and neither', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const fn = (): void => {};
    expect(() => h.runtime.projection('both', { source: { tag: 'x' }, delivery: 'at-least-once', handler: fn, handleBatch: fn })).toThrow(/exactly one of handler and handleBatch/);
    expect(() => h.runtime.projection('none', { source: { tag: 'x' }, delivery: 'at-least-once' })).toThrow(/exactly one of handler and handleBatch/);
  });
});

const sqlBackends = DATABASE_URL === undefined ? (['pglite'] as const) : (['pglite', 'postgres'] as const);

for (const backend of sqlBackends) {
  describe(`an exactly-once projection on ${backend}`, () => {
    it('keeps a read model equal to the fold of the journal through random crashes of the projection (no double counting)', async () => {
      const { store, db } = await openStore(backend);
      const admin = db?.admin;
      if (admin === undefined) throw new Error('needs a SQL store');
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ id: fc.integer({ min: 0, max: 4 }), n: fc.integer({ min: -5, max: 20 }) }), { minLength: 1, maxLength: 25 }),
          // Crash on these handler calls (counted across restarts), after the handler wrote its row.
          fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 6 }),
          fc.integer({ min: 1, max: 5 }),
          async (commands, crashAt, batchSize) => {
            const model = uniqueName('model');
            const table = `"${db?.schema}"."${model}"`;
            await admin(`CREATE TABLE ${table} (id text PRIMARY KEY, total bigint NOT NULL, events bigint NOT NULL)`);
            const h = await harness(store);
            h.runtime.register(account);
            const prefix = uniqueName('acct');
            let calls = 0;
            const crashes = new Set(crashAt);
            const p = h.runtime.projection(model, {
              source: { entityTypes: [account] },
              batchSize,
              backoff: { minMs: 1, maxMs: 1, randomFactor: 0 },
              handler: async (e, ctx) => {
                if (!e.persistenceId.startsWith(`account|${prefix}`)) return;
                await ctx.query(
                  `INSERT INTO ${table} (id, total, events) VALUES ($1, $2, 1)
                   ON CONFLICT (id) DO UPDATE SET total = ${table}.total + EXCLUDED.total, events = ${table}.events + 1`,
                  [e.persistenceId, (e.payload as Added).n],
                );
                calls++;
                if (crashes.has(calls)) throw new Error(`crash at call ${calls}`);
              },
            });
            for (const c of commands) await h.runtime.ref(account, `${prefix}-${c.id}`).ask('add', { n: c.n });
            await caughtUp(h, p);
            const rows = await admin(`SELECT id, total, events FROM ${table}`);
            const got = new Map(rows.map((r) => [r.id as string, [Number(r.total), Number(r.events)]]));
            const want = new Map<string, [number, number]>();
            for (const c of commands) {
              const id = `account|${prefix}-${c.id}`;
              const w = want.get(id) ?? [0, 0];
              want.set(id, [w[0] + c.n, w[1] + 1]);
            }
            expect(got).toEqual(want);
            // Every planned crash that was reached happened, and was restarted from.
            expect(p.stats().restarts).toBe(crashAt.filter((k) => k <= calls).length);
            // The read model also matches the journal's own fold for these ids.
            const fold = await foldJournal(store);
            for (const [id, [total]] of want) expect(fold.get(id)).toBe(total);
            await h.system.stop();
            await admin(`DROP TABLE ${table}`);
          },
        ),
        { numRuns: backend === 'pglite' ? 8 : 12 },
      );
    });

    it('a second runner of the same projection cannot double count: its transaction loses the offset compare-and-set and rolls back', async () => {
      const { store, db } = await openStore(backend);
      const admin = db?.admin as NonNullable<typeof db>['admin'];
      const model = uniqueName('twice');
      const table = `"${db?.schema}"."${model}"`;
      await admin(`CREATE TABLE ${table} (id text PRIMARY KEY, events bigint NOT NULL)`);
      const h1 = await harness(store);
      const h2 = await harness(store);
      h1.runtime.register(account);
      const handler = async (e: GlobalEvent, ctx: { query: (t: string, v?: readonly unknown[]) => Promise<unknown> }): Promise<void> => {
        await ctx.query(`INSERT INTO ${table} (id, events) VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET events = ${table}.events + 1`, [`${e.persistenceId}#${e.sequenceNr}`]);
      };
      const opts = { source: { tag: 'money' }, batchSize: 2, backoff: { minMs: 1, maxMs: 1, randomFactor: 0 }, handler };
      const p1 = h1.runtime.projection(model, opts);
      const p2 = h2.runtime.projection(model, opts);
      for (let i = 0; i < 12; i++) await h1.runtime.ref(account, `twice-${i % 3}`).ask('add', { n: i });
      await until([h1, h2], async () => (await p1.lag()).events === 0 && (await p2.lag()).events === 0, 'both runners to catch up');
      const rows = await admin(`SELECT events FROM ${table}`);
      expect(rows.length).toBe(12);
      expect(rows.every((r) => Number(r.events) === 1)).toBe(true);
      await h1.system.stop();
      await h2.system.stop();
    });
  });
}
