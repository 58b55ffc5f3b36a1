import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventSourcedEntity, type Logger, valueEntity } from '../../src/index.js';
import { StoreUnavailableError, type Store } from '../../src/persistence/index.js';
import { DATABASE_URL } from '../persistence/support.js';
import { activations, counter, delegate, harness, openStore } from './support.js';

/** Wraps a store so the next appends or upserts fail as if the database had gone away. */
function faulty(store: Store): { store: Store; failNextWrites(n: number): void } {
  let failures = 0;
  const fail = (): Promise<never> => {
    failures--;
    return Promise.reject(new StoreUnavailableError('connection terminated'));
  };
  const journal = delegate(store.journal, { append: (...args) => (failures > 0 ? fail() : store.journal.append(...args)) });
  const durableState = delegate(store.durableState, { upsert: (...args) => (failures > 0 ? fail() : store.durableState.upsert(...args)) });
  return {
    store: { ...store, journal, durableState, close: () => store.close(), [Symbol.asyncDispose]: () => store.close() },
    failNextWrites: (n) => (failures = n),
  };
}

describe('write failures', () => {
  it('a failed append answers PERSIST_FAILED, applies nothing, and the entity goes on', async () => {
    const { store } = await openStore('memory');
    const f = faulty(store);
    const h = await harness(f.store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'f');
    await ref.ask('add', { n: 10 });
    f.failNextWrites(1);
    const err = await ref.ask('add', { n: 5 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PERSIST_FAILED', cause: expect.objectContaining({ code: 'STORE_UNAVAILABLE' }) });
    expect(await ref.ask('get')).toBe(10);
    expect(await ref.ask('add', { n: 1 })).toBe(11);
    expect(await store.journal.highestSequenceNr('counter|f')).toBe(2);
    expect(activations(h.events, 'f')).toHaveLength(1); // no reload was needed
  });

  it('a failed state write of a value entity answers PERSIST_FAILED and keeps the old state', async () => {
    const { store } = await openStore('memory');
    const f = faulty(store);
    const h = await harness(f.store);
    const box = valueEntity('box')
      .initialState(() => '')
      .command('set', z.object({ v: z.string() }), (_s, { v }, ctx) => ctx.update(v).thenReply((s) => s))
      .command('get', (s, _i, ctx) => ctx.reply(s));
    h.runtime.register(box);
    const ref = h.runtime.ref(box, 'b');
    await ref.ask('set', { v: 'first' });
    f.failNextWrites(1);
    await expect(ref.ask('set', { v: 'lost' })).rejects.toMatchObject({ code: 'PERSIST_FAILED' });
    expect(await ref.ask('get')).toBe('first');
  });
});

describe('a second writer', () => {
  it('gets a conflict instead of a forked history: ENTITY_CONFLICT, and the entity reloads from the journal', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'contended');
    await ref.ask('add', { n: 1 });
    // Another process writes event 2 behind this runtime's back.
    await store.journal.append('counter|contended', 1, [{ payload: { type: 'Added', n: 1000 }, type: 'Added' }]);
    await expect(ref.ask('add', { n: 5 })).rejects.toMatchObject({ code: 'ENTITY_CONFLICT' });
    // Reloaded: it now knows the other writer's event, and its own next write follows it.
    expect(await ref.ask('add', { n: 5 })).toBe(1006);
    const events = await store.journal.read('counter|contended');
    expect(events.map((e) => (e.payload as { n: number }).n)).toEqual([1, 1000, 5]);
    expect(activations(h.events, 'contended').map((a) => a.sequenceNr)).toEqual([0, 2]);
  });

  it('two runtimes on one store never fork an entity: one write per sequence number', async () => {
    const { store } = await openStore('memory');
    const a = await harness(store);
    const b = await harness(store);
    a.runtime.register(counter);
    b.runtime.register(counter);
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).runtime.ref(counter, 'split').ask('add', { n: 1 })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const conflicts = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'ENTITY_CONFLICT').length;
    expect(ok + conflicts).toBe(40);
    // Every acknowledged command is in the journal exactly once, in a contiguous history.
    const events = await store.journal.read('counter|split');
    expect(events.map((e) => e.sequenceNr)).toEqual(Array.from({ length: ok }, (_, i) => i + 1));
  });
});

describe.runIf(DATABASE_URL !== undefined)('the database going away mid-write (real PostgreSQL)', () => {
  // Needs the real server: backends are terminated with pg_terminate_backend while entities write.
  it('every acknowledged command is in the journal, every failure is reported, and entities recover', async () => {
    const { store, db } = await openStore('postgres');
    const h = await harness(store);
    h.runtime.register(counter);
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    admin.on('error', () => {}); // only the store's sessions are targeted, but be safe
    await admin.connect();
    const acked = new Map<string, number>();
    const failed: string[] = [];
    const work = Array.from({ length: 30 }, async (_, e) => {
      const id = `e${e}`;
      const ref = h.runtime.ref(counter, id);
      for (let i = 0; i < 20; i++) {
        try {
          await ref.ask('add', { n: 1 });
          acked.set(id, (acked.get(id) ?? 0) + 1);
        } catch (err) {
          failed.push((err as { code: string }).code);
        }
      }
    });
    let finished = false;
    let terminated = 0;
    const killer = (async () => {
      // Until the writers are done (bounded by their loops), keep killing the store's connections.
      while (!finished) {
        await new Promise((r) => setImmediate(r));
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE '%${db?.schema}%'`,
        );
        terminated += rows.length;
      }
    })();
    await Promise.all(work);
    finished = true;
    await killer;
    await admin.end();
    expect(terminated).toBeGreaterThan(0);
    expect(failed.every((c) => ['PERSIST_FAILED', 'ENTITY_CONFLICT', 'RECOVERY_FAILED'].includes(c))).toBe(true);
    for (let e = 0; e < 30; e++) {
      const id = `e${e}`;
      const events = await store.journal.read(`counter|${id}`);
      // No acknowledged event is missing; events whose outcome was reported as failed may exist
      // only if the failure said the outcome was unknown (PERSIST_FAILED after a lost commit).
      expect(events.length).toBeGreaterThanOrEqual(acked.get(id) ?? 0);
      expect(events.map((ev) => ev.sequenceNr)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
      // And the entity's state agrees with its journal.
      expect(await h.runtime.ref(counter, id).ask('get')).toBe(events.length);
    }
  });
});

describe('after the commit', () => {
  it('a logger that throws, while reporting a failed side effect, costs no answers: the batch is answered and the entity goes on', async () => {
    const { store } = await openStore('memory');
    const throwing: Logger = {
      debug: () => {},
      info: () => {},
      warn: () => {
        throw new Error('logger down');
      },
      error: () => {
        throw new Error('logger down');
      },
      child: () => throwing,
    };
    const h = await harness(store, { logger: throwing });
    const noisy = eventSourcedEntity('noisy')
      .initialState(() => 0)
      .events<{ type: 'Added'; n: number }>({ Added: (s, e) => s + e.n })
      .command('add', z.object({ n: z.number() }), (_s, { n }, ctx) =>
        ctx
          .emit({ type: 'Added', n })
          .thenRun(() => {
            throw new Error('side effect failed');
          })
          .thenRun(async () => {
            throw new Error('async side effect failed');
          })
          .thenReply((s) => s),
      );
    h.runtime.register(noisy);
    const ref = h.runtime.ref(noisy, 'n');
    // Sent together: one batch, each command's side effects failing before its reply.
    expect(await Promise.all([ref.ask('add', { n: 1 }), ref.ask('add', { n: 2 }), ref.ask('add', { n: 3 })])).toEqual([1, 3, 6]);
    expect(await ref.ask('add', { n: 4 })).toBe(10);
    expect(activations(h.events, 'n')).toHaveLength(1); // it never crashed
  });

  it('a forward to something that is not a ref fails that command alone', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const forwarder = eventSourcedEntity('forwarder')
      .initialState(() => 0)
      .events<{ type: 'Added'; n: number }>({ Added: (s, e) => s + e.n })
      .command('bad', (_s, _i, ctx) => ctx.emit({ type: 'Added', n: 1 }).thenForward({} as never, 'x' as never, undefined as never))
      .command('get', (s, _i, ctx) => ctx.reply(s));
    h.runtime.register(forwarder);
    const ref = h.runtime.ref(forwarder, 'f');
    const [bad, get] = await Promise.all([ref.ask('bad').catch((e: unknown) => e), ref.ask('get')]);
    expect(bad).toBeInstanceOf(Error);
    expect(get).toBe(1);
    // One whose ask answers without a promise: that answer is the reply.
    const odd = eventSourcedEntity('odd-forwarder')
      .initialState(() => 0)
      .events<{ type: 'Added'; n: number }>({ Added: (s, e) => s + e.n })
      .command('fwd', (_s, _i, ctx) => ctx.emit({ type: 'Added', n: 1 }).thenForward({ ask: () => 42 } as never, 'x' as never, undefined as never))
      .command('get', (s, _i, ctx) => ctx.reply(s));
    h.runtime.register(odd);
    const oref = h.runtime.ref(odd, 'o');
    expect(await Promise.all([oref.ask('fwd'), oref.ask('get')])).toEqual([42, 1]);
  });
});
