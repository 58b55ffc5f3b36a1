// Ids the stores cannot hold exactly are refused, identically on every backend; every id the
// entity runtime accepts is stored and read back unchanged, and two different accepted ids are
// two streams (issue 13, item 2). Before: `pg` and PGlite send text as UTF-8, where a lone
// surrogate becomes U+FFFD, so '\uD800' and '\uD801' were one stream in the database.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActorSystem, EntityRuntime, eventSourcedEntity, ManualClock, silentLogger } from '../../src/index.js';
import type { ActorSystem } from '../../src/index.js';
import { createStore, PersistenceArgumentError } from '../../src/persistence/index.js';
import type { Store } from '../../src/persistence/index.js';
import { DATABASE_URL, freshId, openTestDatabase } from './support.js';
import type { AdminQuery, TestDatabase } from './support.js';

interface Backend {
  readonly name: string;
  store: Store;
  /** For SQL backends: raw queries, to see what the tables hold. */
  admin: AdminQuery | undefined;
  schema: string | undefined;
}

const dbs: TestDatabase[] = [];
const backends: Backend[] = [
  { name: 'memory', store: undefined as unknown as Store, admin: undefined, schema: undefined },
  { name: 'pglite', store: undefined as unknown as Store, admin: undefined, schema: undefined },
  ...(DATABASE_URL === undefined ? [] : [{ name: 'postgres', store: undefined as unknown as Store, admin: undefined, schema: undefined }]),
];

beforeAll(async () => {
  for (const b of backends) {
    if (b.name === 'memory') {
      b.store = await createStore({ kind: 'memory' });
      continue;
    }
    const db = await openTestDatabase(b.name === 'pglite' ? 'pglite' : undefined);
    dbs.push(db);
    b.store = await db.openStore();
    b.admin = db.admin;
    b.schema = db.schema;
  }
});
afterAll(async () => {
  for (const b of backends) if (b.name === 'memory') await b.store.close();
  for (const db of dbs) await db.close();
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
}

async function expectRefused(p: Promise<unknown>, field: string): Promise<void> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(PersistenceArgumentError);
  expect(err).toMatchObject({ code: 'PERSISTENCE_INVALID_ARGUMENT', field });
}

describe.each(backends)('ids the stores cannot hold ($name)', (b) => {
  it('refuses two ids that differ only in lone surrogates, instead of making them one stream', async () => {
    const s = b.store;
    const tag = freshId('lone');
    for (const pid of [`${tag}\uD800`, `${tag}\uD801`, `${tag}\uDC00`, `\uDFFF${tag}`, `${tag}\uDC00\uD800`]) {
      await expectRefused(s.journal.append(pid, 0, [{ payload: pid }]), 'persistenceId');
      await expectRefused(s.snapshots.save(pid, 1, pid), 'persistenceId');
      await expectRefused(s.durableState.upsert(pid, 0, pid), 'persistenceId');
      await expectRefused(s.journal.read(pid), 'persistenceId');
      await expectRefused(s.durableState.get(pid), 'persistenceId');
    }
    // Nothing reached the database under the replacement character either.
    expect(await s.journal.highestSequenceNr(`${tag}\uFFFD`)).toBe(0);
    expect(await s.durableState.get(`${tag}\uFFFD`)).toBeUndefined();
    expect(await s.snapshots.loadLatest(`${tag}\uFFFD`)).toBeUndefined();
  });

  it('refuses NUL, lone surrogates and over-long ids alike, and type names with NUL or lone surrogates', async () => {
    const s = b.store;
    await expectRefused(s.journal.append('a\u0000b', 0, [{ payload: 1 }]), 'persistenceId');
    await expectRefused(s.journal.append('x'.repeat(769), 0, [{ payload: 1 }]), 'persistenceId');
    await expectRefused(s.durableState.upsert('x'.repeat(769), 0, 1), 'persistenceId');
    const pid = freshId('types');
    await expectRefused(s.journal.append(pid, 0, [{ payload: 1, type: 'T\uD800' }]), 'events[0].type');
    await expectRefused(s.journal.append(pid, 0, [{ payload: 1, type: 'T\u0000' }]), 'events[0].type');
    await expectRefused(s.snapshots.save(pid, 1, {}, { type: '\uDBFF' }), 'options.type');
    await expectRefused(s.durableState.upsert(pid, 0, {}, { type: '\uDC00' }), 'options.type');
    expect(await s.journal.highestSequenceNr(pid)).toBe(0);
    // The longest id (768 code units of 3 UTF-8 bytes each) fits every backend's index.
    const longest = `${freshId('long')}`.padEnd(768, '\u20AC');
    await s.journal.append(longest, 0, [{ payload: 1, type: longest }]);
    await s.snapshots.save(longest, 1, 'snap');
    await s.durableState.upsert(longest, 0, 'state');
    expect((await s.journal.read(longest)).map((e) => [e.persistenceId, e.type])).toEqual([[longest, longest]]);
  });
});

// ---------------------------------------------------------------- the property

const counter = eventSourcedEntity('counter')
  .initialState(() => 0)
  .events<{ type: 'Added' }>({ Added: (n) => n + 1 })
  .command('get', (n, _i, ctx) => ctx.reply(n));

/** Code units and strings that have tripped stores, encoders or comparisons somewhere. */
const tricky = fc.constantFrom(
  '\u0000', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', // NUL and lone surrogates: to be refused
  '\u{1F600}', '\u{10FFFF}', '\u{1F469}\u200D\u{1F467}', // astral, a ZWJ sequence
  'e\u0301', '\u00E9', '\u0301', // one letter composed and decomposed: different ids
  '\uFEFF', '\uFFFD', '\uFFFF', '\u200B', '\u00A0', // BOM, replacement char, noncharacter, spaces
  '|', '"', '\\', ',', '{', '}', "'", ' ', '\n', '\t', '%', '_', // SQL and array-literal syntax
);
const shortId = fc.string({
  unit: fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }, // any code point, astral too
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) }, // combining sequences
    { weight: 3, arbitrary: tricky },
  ),
  maxLength: 12,
});
/** Mostly short ids; some padded to around the 512-unit bound with a 3-byte character (the most UTF-8 per unit). */
const idArb = fc.oneof(
  { weight: 4, arbitrary: shortId },
  { weight: 1, arbitrary: fc.tuple(shortId, fc.integer({ min: 500, max: 515 })).map(([id, n]) => id.padEnd(n, '\u20AC')) },
);

describe('every entity id the runtime accepts round-trips through every store, and never aliases another', () => {
  let system: ActorSystem;
  let runtime: EntityRuntime;
  beforeAll(async () => {
    system = createActorSystem({ clock: new ManualClock(), logger: silentLogger });
    runtime = new EntityRuntime(system, { store: await createStore({ kind: 'memory' }) });
    runtime.register(counter);
  });
  afterAll(async () => {
    await system.stop();
  });

  const accepted = (id: string): boolean => {
    try {
      runtime.refFor('counter', id);
      return true;
    } catch (err) {
      expect(err).toMatchObject({ code: 'INVALID_ENTITY_ID' });
      return false;
    }
  };

  it('accepts exactly the non-empty, well-formed ids of at most 512 code units without NUL', () => {
    fc.assert(
      fc.property(idArb, (id) => {
        const wellFormed = (id as unknown as { isWellFormed(): boolean }).isWellFormed();
        expect(accepted(id)).toBe(id.length > 0 && id.length <= 512 && !id.includes('\u0000') && wellFormed);
      }),
      { numRuns: 500 },
    );
  });

  for (const b of backends) {
    it(`on ${b.name}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(idArb, { minLength: 1, maxLength: 5 }), async (ids) => {
          const good = ids.filter(accepted);
          if (good.length === 0) return;
          // Fresh per run (fast-check repeats ids across runs); the tag keeps every id distinct.
          const tag = freshId('p');
          // The persistence id of entity (type, id), as the entity runtime forms it.
          const pids = good.map((id) => `counter|${tag}/${id}`);
          await Promise.all(pids.map((pid, i) => b.store.journal.append(pid, 0, [{ payload: { id: good[i] }, type: pid }])));
          await Promise.all(pids.map((pid, i) => b.store.snapshots.save(pid, 1, { id: good[i] }, { type: pid })));
          await Promise.all(pids.map((pid, i) => b.store.durableState.upsert(pid, 0, { id: good[i] }, { type: pid })));
          for (const [i, pid] of pids.entries()) {
            const events = await b.store.journal.read(pid);
            expect(events.map((e) => [e.persistenceId, e.type, e.payload])).toEqual([[pid, pid, { id: good[i] }]]);
            expect(await b.store.journal.highestSequenceNr(pid)).toBe(1);
            expect(await b.store.snapshots.loadLatest(pid)).toMatchObject({ sequenceNr: 1, type: pid, snapshot: { id: good[i] } });
            expect(await b.store.durableState.get(pid)).toMatchObject({ revision: 1, type: pid, value: { id: good[i] } });
          }
          if (b.admin !== undefined) {
            // What the tables hold, read back from the database itself: each id exactly once.
            for (const table of ['journal', 'snapshots', 'durable_state']) {
              const rows = await b.admin(`SELECT persistence_id FROM "${b.schema}".beamstate_${table} WHERE starts_with(persistence_id, $1)`, [`counter|${tag}/`]);
              expect(rows.map((r) => r.persistence_id).sort()).toEqual([...pids].sort());
            }
          }
        }),
        { numRuns: b.name === 'memory' ? 200 : 40 },
      );
    });
  }
});
