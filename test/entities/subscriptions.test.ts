import { describe, expect, it } from 'vitest';
import { type EntityUpdate } from '../../src/index.js';
import { counter, harness, openStore, until } from './support.js';

describe('subscriptions', () => {
  it('state: the current state first, then the state after each change, in order', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 's');
    await ref.ask('add', { n: 1 });
    const seen: EntityUpdate[] = [];
    const sub = await h.runtime.subscribe(ref, { state: true }, (u) => seen.push(u));
    await Promise.all([ref.ask('add', { n: 2 }), ref.ask('add', { n: 3 })]);
    expect(seen).toEqual([
      { kind: 'state', entityType: 'counter', entityId: 's', version: 1, state: { value: 1 } },
      { kind: 'state', entityType: 'counter', entityId: 's', version: 2, state: { value: 3 } },
      { kind: 'state', entityType: 'counter', entityId: 's', version: 3, state: { value: 6 } },
    ]);
    sub.unsubscribe();
    await ref.ask('add', { n: 4 });
    expect(seen).toHaveLength(3);
    expect(sub.active).toBe(false);
  });

  it('events: each persisted event once, with its sequence number, across passivation', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter, { idleTimeoutMs: 50 });
    const ref = h.runtime.ref(counter, 'e');
    const seen: [number, unknown][] = [];
    using _sub = await h.runtime.subscribe(ref, { events: true }, (u) => {
      if (u.kind === 'event') seen.push([u.sequenceNr, u.event]);
    });
    await ref.ask('add', { n: 1 });
    h.clock.advance(50);
    await until(() => h.runtime.activeEntities === 0, 'passivation');
    await ref.ask('add', { n: 2 }); // a new incarnation publishes to the same subscription
    expect(seen).toEqual([
      [1, { type: 'Added', n: 1 }],
      [2, { type: 'Added', n: 2 }],
    ]);
  });

  it('events from a sequence number: catches up from the journal, then live, with no gap or overlap', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'catch-up');
    for (let i = 1; i <= 5; i++) await ref.ask('add', { n: i });
    const seqs: number[] = [];
    const subscribed = h.runtime.subscribe(ref, { events: true, fromSequenceNr: 3 }, (u) => {
      if (u.kind === 'event') seqs.push(u.sequenceNr);
    });
    const concurrent = ref.ask('add', { n: 6 });
    await subscribed;
    await concurrent;
    await ref.ask('add', { n: 7 });
    expect(seqs).toEqual([3, 4, 5, 6, 7]);
  });

  it('a throwing subscriber does not disturb the entity or other subscribers', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'bad-sub');
    await h.runtime.subscribe(ref, { state: true }, () => {
      throw new Error('listener bug');
    });
    const seen: unknown[] = [];
    await h.runtime.subscribe(ref, { state: true }, (u) => seen.push(u.kind === 'state' ? u.state : null));
    expect(await ref.ask('add', { n: 2 })).toBe(2);
    expect(seen).toEqual([{ value: 0 }, { value: 2 }]);
  });

  it('rejects subscriptions to nothing', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    await expect(h.runtime.subscribe(h.runtime.ref(counter, 'x'), {}, () => {})).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});
