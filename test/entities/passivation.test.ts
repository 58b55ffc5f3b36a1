import { describe, expect, it } from 'vitest';
import { activations, counter, harness, openStore, until } from './support.js';

describe('passivation', () => {
  it('passivates an entity idle for idleTimeoutMs (test clock), and it comes back transparently', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter, { idleTimeoutMs: 1000 });
    const ref = h.runtime.ref(counter, 'idle');
    await ref.ask('add', { n: 7 });
    h.clock.advance(999);
    await h.system.whenIdle();
    expect(h.runtime.activeEntities).toBe(1);
    h.clock.advance(1);
    await until(() => h.runtime.activeEntities === 0, 'passivation');
    expect(h.events.filter((e) => e.type === 'entity.passivated')).toEqual([
      { type: 'entity.passivated', entityType: 'counter', entityId: 'idle', reason: 'idle' },
    ]);
    expect(await ref.ask('get')).toBe(7);
    expect(activations(h.events, 'idle')).toHaveLength(2);
  });

  it('a command keeps an entity alive: the idle clock restarts with each command', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter, { idleTimeoutMs: 1000 });
    const ref = h.runtime.ref(counter, 'busy');
    for (let i = 0; i < 5; i++) {
      await ref.ask('add', { n: 1 });
      h.clock.advance(600);
      await h.system.whenIdle();
    }
    expect(h.events.some((e) => e.type === 'entity.passivated')).toBe(false);
    h.clock.advance(400);
    await until(() => h.runtime.activeEntities === 0, 'passivation');
  });

  it('caps active entities: the least recently used idle one is passivated', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store, { maxActiveEntities: 3 });
    h.runtime.register(counter, { idleTimeoutMs: Infinity });
    for (const id of ['a', 'b', 'c']) await h.runtime.ref(counter, id).ask('add', { n: 1 });
    await h.runtime.ref(counter, 'a').ask('get'); // a is now more recent than b
    await h.runtime.ref(counter, 'd').ask('add', { n: 1 });
    await until(() => h.runtime.activeEntities === 3, 'eviction');
    expect(h.events.filter((e) => e.type === 'entity.passivated')).toEqual([
      { type: 'entity.passivated', entityType: 'counter', entityId: 'b', reason: 'lru' },
    ]);
    expect(await h.runtime.ref(counter, 'b').ask('get')).toBe(1);
  });

  it('no command is lost in the race between passivation and arrival', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter, { idleTimeoutMs: 10 });
    const ref = h.runtime.ref(counter, 'race');
    let expected = 0;
    // Each round: the idle timer fires (a passivation request is queued for the actor) and, in
    // the same turn, commands arrive. Whichever the actor sees first, every command is handled
    // exactly once, by this incarnation or the next.
    for (let round = 0; round < 50; round++) {
      await ref.ask('add', { n: 1 });
      expected++;
      h.clock.advance(10);
      const burst = Array.from({ length: round % 4 }, () => ref.ask('add', { n: 1 }));
      expected += burst.length;
      await Promise.all(burst);
      if (round % 3 === 0) await h.system.whenIdle();
    }
    expect(await ref.ask('get')).toBe(expected);
    expect(await store.journal.highestSequenceNr('counter|race')).toBe(expected);
    expect(h.events.filter((e) => e.type === 'entity.passivated').length).toBeGreaterThan(0);
  });

  it('an effect can ask to passivate once the queue is empty', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const { eventSourcedEntity } = await import('../../src/index.js');
    const oneShot = eventSourcedEntity('one-shot')
      .initialState(() => 0)
      .events<{ type: 'Done' }>({ Done: (n) => n + 1 })
      .command('finish', (_s, _i, ctx) => ctx.emit({ type: 'Done' }).thenPassivate().thenReply((n) => n));
    h.runtime.register(oneShot, { idleTimeoutMs: Infinity });
    expect(await h.runtime.ref(oneShot, 'x').ask('finish')).toBe(1);
    await until(() => h.runtime.activeEntities === 0, 'requested passivation');
    expect(h.events.find((e) => e.type === 'entity.passivated')).toMatchObject({ reason: 'requested' });
  });
  it('an entity that crashed and waited out a backoff longer than the idle timeout is still passivated once idle', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter, { idleTimeoutMs: 100, backoff: { minMs: 1000, maxMs: 1000, randomFactor: 0 }, maxCommandAttempts: 1 });
    const ref = h.runtime.ref(counter, 'crashed');
    await ref.ask('add', { n: 1 });
    const crash = ref.ask('crash', undefined, { timeout: Infinity }).catch((e: { code?: string }) => e.code);
    await until(() => h.events.some((e) => e.type === 'supervisor.child-exited'), 'the crash');
    // The idle sweep comes round (every 100 ms) while the entity waits 1 s for its restart.
    for (let t = 0; t < 1000; t += 50) {
      h.clock.advance(50);
      await h.system.whenIdle();
    }
    expect(await crash).toBe('POISON_COMMAND'); // answered by the restarted entity
    await until(() => activations(h.events, 'crashed').length === 2, 'the restart');
    expect(h.runtime.activeEntities).toBe(1);
    h.clock.advance(100);
    await until(() => h.runtime.activeEntities === 0, 'passivation of the restarted entity');
    expect(await ref.ask('get')).toBe(1);
  });
  it('the active-entity cap passes over an entity waiting out a restart backoff: the others are still evicted', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store, { maxActiveEntities: 2 });
    h.runtime.register(counter, { backoff: { minMs: 10_000, maxMs: 10_000, randomFactor: 0 }, maxCommandAttempts: 1 });
    let answered = false;
    void h.runtime
      .ref(counter, 'crasher')
      .ask('crash', undefined, { timeout: Infinity })
      .catch(() => {})
      .finally(() => (answered = true));
    await until(() => h.events.some((e) => e.type === 'supervisor.child-exited'), 'the crash');
    for (let i = 0; i < 6; i++) {
      await h.runtime.ref(counter, `e${i}`).ask('add', { n: 1 });
      await h.system.whenIdle();
    }
    expect(h.runtime.activeEntities).toBeLessThanOrEqual(3); // the cap, and the one that cannot answer
    h.clock.advance(10_000); // the crashed one restarts; its command ends as poison
    await until(() => answered, 'the poison answer');
  });
});
