import { describe, expect, it } from 'vitest';
import { activations, counter, harness, openStore } from './support.js';

describe('activation', () => {
  it('a burst of concurrent first commands activates the entity exactly once, and each is handled once, in order', async () => {
    const { store } = await openStore('pglite');
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'burst');
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => ref.ask('add', { n: i + 1 })));
    // Each reply is the running total after that command: commands were applied one by one, in order.
    expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => ((i + 1) * (i + 2)) / 2));
    expect(activations(h.events, 'burst')).toHaveLength(1);
    expect(await store.journal.highestSequenceNr('counter|burst')).toBe(200);
  });

  it('refs to the same entity from anywhere share one activation', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    await Promise.all([
      h.runtime.ref(counter, 'shared').ask('add', { n: 1 }),
      h.runtime.refFor('counter', 'shared').ask('add', { n: 2 }),
      h.runtime.ref(counter, 'shared').ask('add', { n: 3 }),
    ]);
    expect(await h.runtime.ref(counter, 'shared').ask('get')).toBe(6);
    expect(activations(h.events, 'shared')).toHaveLength(1);
    expect(h.runtime.activeEntities).toBe(1);
  });

  it('a new incarnation waits for the previous one to be gone before it reads the store', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter, { idleTimeoutMs: 100 });
    const ref = h.runtime.ref(counter, 'twice');
    await ref.ask('add', { n: 5 });
    h.clock.advance(100); // passivation requested
    const next = ref.ask('add', { n: 1 }); // may arrive while the old incarnation stops
    expect(await next).toBe(6);
    expect(await ref.ask('get')).toBe(6);
  });
});
