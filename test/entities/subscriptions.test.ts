import { describe, expect, it } from 'vitest';
import { type EntityUpdate } from '../../src/index.js';
import { counter, harness, heldAppends, heldReplays, openStore, until } from './support.js';

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
  it('a subscribe that times out while the entity is busy never goes live (no one could unsubscribe it)', async () => {
    const { store: base } = await openStore('memory');
    const { store, held } = heldAppends(base);
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'busy');
    const write = ref.ask('add', { n: 1 }, { timeout: Infinity });
    await until(() => held.length === 1, 'the write');
    const seen: EntityUpdate[] = [];
    const subscribed = h.runtime.subscribe(ref, { events: true, state: true }, (u) => seen.push(u)).catch((e: { code?: string }) => e.code);
    await h.system.whenIdle();
    h.clock.advance(h.system.askTimeout);
    expect(await subscribed).toBe('ASK_TIMEOUT');
    held[0]?.go();
    await write;
    const next = ref.ask('add', { n: 2 });
    await until(() => held.length === 2, 'the next write');
    held[1]?.go();
    expect(await next).toBe(3);
    expect(seen).toEqual([]);
  });

  it('a subscribe that times out during its catch-up from the journal never goes live', async () => {
    const { store: base } = await openStore('memory');
    const gate = heldReplays(base);
    const h = await harness(gate.store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'catching-up');
    for (let i = 0; i < 3; i++) await ref.ask('add', { n: 1 });
    const seen: EntityUpdate[] = [];
    const subscribed = h.runtime.subscribe(ref, { events: true, fromSequenceNr: 1 }, (u) => seen.push(u)).catch((e: { code?: string }) => e.code);
    await until(() => gate.waiting() === 1, 'the catch-up read');
    h.clock.advance(h.system.askTimeout);
    expect(await subscribed).toBe('ASK_TIMEOUT');
    gate.open();
    expect(await ref.ask('add', { n: 1 })).toBe(4); // handled after the catch-up ended
    expect(seen).toEqual([]);
  });
});
