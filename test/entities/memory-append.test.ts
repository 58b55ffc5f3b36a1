import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventSourcedEntity } from '../../src/index.js';
import { activations, counter, delegate, harness, openStore, storeWith } from './support.js';

// On the in-memory store an event-sourced entity's append is done synchronously (no promise
// between the write and the replies): these check that it keeps the semantics of the
// asynchronous path — a refused write applies nothing and answers every command of its batch,
// a conflict reloads, and a journal whose `append` was replaced is still the one called.

/** A counter whose `addBad` command emits an event the default serializer refuses (a Map inside). */
const picky = eventSourcedEntity('picky')
  .initialState(() => ({ value: 0 }))
  .events<{ type: 'Added'; n: number; extra?: unknown }>({ Added: (s, e) => ({ value: s.value + e.n }) })
  .command('add', z.object({ n: z.number().int() }), (_s, { n }, ctx) => ctx.emit({ type: 'Added', n }).thenReply((st) => st.value))
  .command('addBad', z.object({ n: z.number().int() }), (_s, { n }, ctx) => ctx.emit({ type: 'Added', n, extra: new Map([[1, 2]]) }).thenReply((st) => st.value))
  .command('get', (s, _i, ctx) => ctx.reply(s.value));

describe('in-memory appends of entity commands', () => {
  it('an event the serializer refuses fails its whole batch with PERSIST_FAILED (SERIALIZATION_FAILED), applies nothing, and the entity goes on', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(picky);
    const ref = h.runtime.ref(picky, 'p');
    expect(await ref.ask('add', { n: 5 })).toBe(5);
    // Sent in one turn: the three are queued together and handled as one batch, one atomic write.
    const results = await Promise.allSettled([ref.ask('add', { n: 1 }), ref.ask('addBad', { n: 2 }), ref.ask('add', { n: 3 })]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'PERSIST_FAILED', cause: { code: 'SERIALIZATION_FAILED', message: expect.stringContaining('could not encode events[1].payload: value.extra is a Map') } });
    }
    expect(await ref.ask('get')).toBe(5);
    expect(await store.journal.highestSequenceNr('picky|p')).toBe(1);
    expect(await ref.ask('add', { n: 10 })).toBe(15);
    expect((await store.journal.read('picky|p')).map((e) => (e.payload as { n: number }).n)).toEqual([5, 10]);
    expect(activations(h.events, 'p')).toHaveLength(1); // a refused value needs no reload
  });

  it('a batch of commands is one append: each reply sees the state after its own event', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'b');
    await ref.ask('get');
    expect(await Promise.all([1, 2, 3, 4].map((n) => ref.ask('add', { n })))).toEqual([1, 3, 6, 10]);
    expect(store.journal.stats().appends).toBe(1);
    expect((await store.journal.read('counter|b')).map((e) => e.sequenceNr)).toEqual([1, 2, 3, 4]);
  });

  it('a journal whose append was replaced is called through it, not around it', async () => {
    const { store: base } = await openStore('memory');
    const calls: number[] = [];
    const journal = delegate(base.journal, {
      append: (...args) => {
        calls.push(args[1]);
        return base.journal.append(...args);
      },
    });
    const h = await harness(storeWith(base, { journal }));
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'w');
    expect(await ref.ask('add', { n: 2 })).toBe(2);
    expect(await ref.ask('add', { n: 3 })).toBe(5);
    expect(calls).toEqual([0, 1]);
  });

  it('the store closed under a running entity: its command fails with PERSIST_FAILED (STORE_CLOSED), not a crash loop', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'c');
    expect(await ref.ask('add', { n: 1 })).toBe(1);
    await store.close();
    await expect(ref.ask('add', { n: 1 })).rejects.toMatchObject({ code: 'PERSIST_FAILED', cause: { code: 'STORE_CLOSED' } });
  });
});
