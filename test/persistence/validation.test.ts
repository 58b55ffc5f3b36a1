import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, PersistenceArgumentError } from '../../src/persistence/index.js';
import type { Serializer, Store, StoreOptions } from '../../src/persistence/index.js';
import { isBeamstateError } from '../../src/errors.js';
import { freshId, openTestDatabase } from './support.js';
import type { TestDatabase } from './support.js';

/** Awaits `p` and returns what it rejected with (fails the test if it resolved). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
}

async function expectInvalid(p: Promise<unknown>, field: string): Promise<void> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(PersistenceArgumentError);
  expect(err).toMatchObject({ code: 'PERSISTENCE_INVALID_ARGUMENT', field });
}

function badArguments(store: () => Store): void {
  it('rejects bad persistence ids', async () => {
    const j = store().journal;
    await expectInvalid(j.append('', 0, [{ payload: 1 }]), 'persistenceId');
    await expectInvalid(j.append(42 as unknown as string, 0, [{ payload: 1 }]), 'persistenceId');
    await expectInvalid(j.append('a\u0000b', 0, [{ payload: 1 }]), 'persistenceId');
    await expectInvalid(j.highestSequenceNr(''), 'persistenceId');
    await expectInvalid(j.read(''), 'persistenceId');
    await expectInvalid(store().snapshots.save('', 1, {}), 'persistenceId');
    await expectInvalid(store().durableState.get(''), 'persistenceId');
  });

  it('rejects negative, fractional and non-numeric sequence numbers and bounds', async () => {
    const j = store().journal;
    const pid = freshId('bad');
    await expectInvalid(j.append(pid, -1, [{ payload: 1 }]), 'expectedSequenceNr');
    await expectInvalid(j.append(pid, 1.5, [{ payload: 1 }]), 'expectedSequenceNr');
    await expectInvalid(j.append(pid, Number.NaN, [{ payload: 1 }]), 'expectedSequenceNr');
    await expectInvalid(j.append(pid, '1' as unknown as number, [{ payload: 1 }]), 'expectedSequenceNr');
    await expectInvalid(j.append(pid, Number.MAX_SAFE_INTEGER + 2, [{ payload: 1 }]), 'expectedSequenceNr');
    await expectInvalid(j.read(pid, { fromSequenceNr: -1 }), 'options.fromSequenceNr');
    await expectInvalid(j.read(pid, { toSequenceNr: 2.5 }), 'options.toSequenceNr');
    await expectInvalid(j.read(pid, { max: -3 }), 'options.max');
    await expectInvalid(j.deleteTo(pid, -1), 'toSequenceNr');
    await expectInvalid(j.readByOrdering({ afterOrdering: -1 }), 'query.afterOrdering');
    await expectInvalid(j.readByOrdering({ max: 0 }), 'query.max');
    await expectInvalid(store().snapshots.save(pid, -1, {}), 'sequenceNr');
    await expectInvalid(store().snapshots.loadLatest(pid, { maxSequenceNr: -1 }), 'criteria.maxSequenceNr');
    await expectInvalid(store().snapshots.delete(pid, { minTimestamp: 0.5 }), 'criteria.minTimestamp');
    await expectInvalid(store().snapshots.keepLast(pid, -1), 'count');
    await expectInvalid(store().durableState.upsert(pid, -1, 'x'), 'expectedRevision');
    await expectInvalid(store().durableState.delete(pid, 1.25), 'expectedRevision');
  });

  it('rejects empty or malformed event lists and bad types or metadata', async () => {
    const j = store().journal;
    const pid = freshId('bad');
    await expectInvalid(j.append(pid, 0, []), 'events');
    await expectInvalid(j.append(pid, 0, 'nope' as unknown as []), 'events');
    await expectInvalid(j.append(pid, 0, [null as unknown as { payload: unknown }]), 'events[0]');
    await expectInvalid(j.append(pid, 0, [{ payload: 1 }, { payload: 2, type: 7 as unknown as string }]), 'events[1].type');
    await expectInvalid(j.append(pid, 0, [{ payload: 1, metadata: [1] as unknown as Record<string, unknown> }]), 'events[0].metadata');
    await expectInvalid(store().snapshots.save(pid, 1, {}, { type: 'a\u0000' }), 'options.type');
    // Nothing of a rejected append was written.
    expect(await j.highestSequenceNr(pid)).toBe(0);
  });

  it('fails an append whose payload the serializer rejects, alone', async () => {
    const pid = freshId('bad');
    const other = freshId('good');
    const [bad, good] = await Promise.allSettled([
      store().journal.append(pid, 0, [{ payload: 1 }, { payload: { tooBig: 2n ** 70n } }]),
      store().journal.append(other, 0, [{ payload: 'fine' }]),
    ]);
    expect(bad.status === 'rejected' && isBeamstateError(bad.reason, 'SERIALIZATION_FAILED')).toBe(true);
    expect(good.status).toBe('fulfilled');
    expect(await store().journal.highestSequenceNr(pid)).toBe(0);
  });
}

describe('bad input', () => {
  describe('memory', () => {
    let store: Store;
    beforeAll(async () => {
      store = await createStore({ kind: 'memory' });
    });
    afterAll(async () => {
      await store.close();
    });
    badArguments(() => store);
  });

  describe('SQL (PostgreSQL with DATABASE_URL, else PGlite)', () => {
    let db: TestDatabase;
    let store: Store;
    beforeAll(async () => {
      db = await openTestDatabase();
      store = await db.openStore();
    });
    afterAll(async () => {
      await db.close();
    });
    badArguments(() => store);

    it('rejects bad schema and prefix names before touching the database', async () => {
      await expectInvalid(createStore(db.storeOptions({ schema: 'Robert"; DROP TABLE x; --' })), 'options.schema');
      await expectInvalid(createStore(db.storeOptions({ schema: '1abc' })), 'options.schema');
      await expectInvalid(createStore(db.storeOptions({ tablePrefix: 'has space' })), 'options.tablePrefix');
      await expectInvalid(createStore(db.storeOptions({ tablePrefix: 'x'.repeat(60) })), 'options.tablePrefix');
      await expectInvalid(createStore(db.storeOptions({ groupCommit: { maxBatchEvents: 0 } })), 'options.groupCommit.maxBatchEvents');
      await expectInvalid(createStore(db.storeOptions({ replayChunkSize: -5 })), 'options.replayChunkSize');
    });
  });

  describe('store options', () => {
    it('rejects an unknown kind, a string that is not a URL, and a postgres store with neither or both of url and pool', async () => {
      await expectInvalid(createStore({ kind: 'mysql' } as unknown as StoreOptions), 'options.kind');
      await expectInvalid(createStore('mysql://localhost/db'), 'options');
      await expectInvalid(createStore({ kind: 'postgres' }), 'options');
      await expectInvalid(createStore(null as unknown as StoreOptions), 'options');
      await expectInvalid(createStore({ kind: 'memory', serializer: {} as Serializer }), 'options.serializer');
    });

    it('refuses calls after close with STORE_CLOSED, and close is idempotent', async () => {
      const store = await createStore({ kind: 'memory' });
      await store.journal.append('p', 0, [{ payload: 1 }]);
      await store.close();
      await store.close();
      for (const p of [
        store.journal.append('p', 1, [{ payload: 2 }]),
        store.journal.read('p'),
        store.snapshots.loadLatest('p'),
        store.durableState.get('p'),
      ]) {
        expect(isBeamstateError(await rejection(p), 'STORE_CLOSED')).toBe(true);
      }
    });

    it('supports await using', async () => {
      let escaped: Store | undefined;
      {
        await using store = await createStore({ kind: 'memory' });
        escaped = store;
      }
      expect(isBeamstateError(await rejection(escaped.journal.highestSequenceNr('p')), 'STORE_CLOSED')).toBe(true);
    });
  });
});
