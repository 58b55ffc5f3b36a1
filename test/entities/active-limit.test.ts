// maxActiveEntities is a soft cap: at it, each activation passivates the least recently used
// idle entity. When none is idle (every active entity has work) the cap is exceeded, by at most
// maxActiveEntitiesOverflow; beyond that, activations are refused with TOO_MANY_ACTIVE_ENTITIES,
// and the excess goes as its entities turn idle.
import { describe, expect, it } from 'vitest';
import { EntityRuntime } from '../../src/index.js';
import { counter, harness, heldAppends, openStore, until } from './support.js';

describe('the cap on active entities', () => {
  it('while every active entity is busy: exceeded by at most the overflow, then activations are refused; the excess goes once idle', async () => {
    const { store: base } = await openStore('memory');
    const writes = heldAppends(base);
    const h = await harness(writes.store, { maxActiveEntities: 2, maxActiveEntitiesOverflow: 1 });
    h.runtime.register(counter, { idleTimeoutMs: Infinity });
    const ref = (id: string) => h.runtime.ref(counter, id);
    // a, b and c each have a write at the database: busy, none can be passivated.
    const busy = ['a', 'b', 'c'].map((id) => ref(id).ask('add', { n: 1 }, { timeout: Infinity }));
    await until(() => writes.held.length === 3, 'three writes in flight');
    expect(h.runtime.stats()).toEqual({ activeEntities: 3, passivating: 0, maxActiveEntities: 2, activeEntitiesLimit: 3, refusedActivations: 0 });
    // A fourth entity is refused at once, and not activated.
    await expect(ref('d').ask('add', { n: 1 })).rejects.toMatchObject({ code: 'TOO_MANY_ACTIVE_ENTITIES', limit: 3 });
    await expect(h.runtime.subscribe(ref('d'), { state: true }, () => {})).rejects.toMatchObject({ code: 'TOO_MANY_ACTIVE_ENTITIES' });
    expect(h.runtime.stats()).toMatchObject({ activeEntities: 3, refusedActivations: 2 });
    // Active entities still take commands.
    const more = ref('a').ask('add', { n: 1 }, { timeout: Infinity });
    // The writes commit: the entities turn idle, and the one over the cap goes.
    for (const write of writes.held.splice(0, 3)) write.go();
    expect(await Promise.all(busy)).toEqual([1, 1, 1]);
    await until(() => writes.held.length === 1, "a's second write");
    writes.held.shift()?.go();
    expect(await more).toBe(2);
    await until(() => h.runtime.activeEntities === 2, 'the excess to passivate');
    expect(h.events.filter((e) => e.type === 'entity.passivated')).toHaveLength(1);
    // Under the cap, d is let in again (and an idle one makes room for it).
    const d = ref('d').ask('add', { n: 5 });
    await until(() => writes.held.length === 1, "d's write");
    writes.held.shift()?.go();
    expect(await d).toBe(5);
    await until(() => h.runtime.activeEntities === 2, 'back at the cap');
    expect(h.runtime.stats()).toMatchObject({ activeEntities: 2, passivating: 0, refusedActivations: 2 });
  });

  it('entities asked to passivate are not counted against the limit: a burst of new ones while the old ones are idle is let in', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store, { maxActiveEntities: 2, maxActiveEntitiesOverflow: 1 });
    h.runtime.register(counter, { idleTimeoutMs: Infinity });
    const ref = (id: string) => h.runtime.ref(counter, id);
    for (const id of ['a', 'b']) await ref(id).ask('add', { n: 1 });
    // Three new entities in one tick: a and b are asked to go for the first two (and still count
    // as active until they handle that), the third is the one over the cap the overflow allows.
    expect(await Promise.all(['c', 'd', 'e'].map((id) => ref(id).ask('add', { n: 1 })))).toEqual([1, 1, 1]);
    expect(h.runtime.stats().refusedActivations).toBe(0);
    await until(() => h.runtime.activeEntities === 2, 'back at the cap');
    expect(h.runtime.stats()).toMatchObject({ activeEntities: 2, passivating: 0 });
  });

  it('an idle entity behind a busy least recently used one is the one evicted', async () => {
    const { store: base } = await openStore('memory');
    const writes = heldAppends(base);
    const h = await harness(writes.store, { maxActiveEntities: 2 });
    h.runtime.register(counter, { idleTimeoutMs: Infinity });
    const ref = (id: string) => h.runtime.ref(counter, id);
    const slow = ref('old-busy').ask('add', { n: 1 }, { timeout: Infinity }); // least recently used, and busy
    await until(() => writes.held.length === 1, 'its write');
    const idle = ref('idle').ask('get'); // more recent, and idle once answered
    expect(await idle).toBe(0);
    const fresh = ref('fresh').ask('get');
    expect(await fresh).toBe(0);
    await until(() => h.runtime.activeEntities === 2, 'an eviction');
    expect(h.events.filter((e) => e.type === 'entity.passivated')).toEqual([{ type: 'entity.passivated', entityType: 'counter', entityId: 'idle', reason: 'lru' }]);
    writes.held.shift()?.go();
    expect(await slow).toBe(1);
  });

  it('overflow 0 makes the cap hard; the overflow option is checked', async () => {
    const { store: base } = await openStore('memory');
    const writes = heldAppends(base);
    const h = await harness(writes.store, { maxActiveEntities: 1, maxActiveEntitiesOverflow: 0 });
    h.runtime.register(counter, { idleTimeoutMs: Infinity });
    const first = h.runtime.ref(counter, 'one').ask('add', { n: 1 }, { timeout: Infinity });
    await until(() => writes.held.length === 1, 'its write');
    await expect(h.runtime.ref(counter, 'two').ask('get')).rejects.toMatchObject({ code: 'TOO_MANY_ACTIVE_ENTITIES', limit: 1 });
    writes.held.shift()?.go();
    expect(await first).toBe(1);
    await h.system.whenIdle();
    expect(await h.runtime.ref(counter, 'two').ask('get')).toBe(0); // 'one' is idle now: it makes room
    expect(() => new EntityRuntime(h.system, { store: base, maxActiveEntities: 10, maxActiveEntitiesOverflow: -1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', field: 'maxActiveEntitiesOverflow' }),
    );
    // The default overflow: 10 % of the cap, at least 1; unlimited without a cap.
    expect(new EntityRuntime(h.system, { store: base, maxActiveEntities: 50 }).stats().activeEntitiesLimit).toBe(55);
    expect(new EntityRuntime(h.system, { store: base, maxActiveEntities: 3 }).stats().activeEntitiesLimit).toBe(4);
    expect(new EntityRuntime(h.system, { store: base }).stats().activeEntitiesLimit).toBe(Infinity);
  });
});
