import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { valueEntity } from '../../src/index.js';
import { activations, backends, harness, openStore, until } from './support.js';

const profile = valueEntity('profile')
  .initialState(() => ({ name: '', visits: 0 }))
  .command('rename', z.object({ name: z.string().min(1) }), (s, { name }, ctx) => ctx.update({ ...s, name }).thenReply((n) => n))
  .command('visit', (s, _i, ctx) => ctx.update({ ...s, visits: s.visits + 1 }).thenReply((n) => n.visits))
  .command('get', (s, _i, ctx) => ctx.reply(s))
  .command('revision', (_s, _i, ctx) => ctx.reply(ctx.revision))
  .command('forget', (_s, _i, ctx) => ctx.delete().reply('forgotten'));

describe.each(backends)('value entities on %s', (backend) => {
  it('stores the new state before replying, and comes back with it', async () => {
    const { store } = await openStore(backend);
    const h = await harness(store);
    h.runtime.register(profile, { idleTimeoutMs: 100 });
    const ref = h.runtime.ref(profile, 'ada');
    await ref.ask('rename', { name: 'Ada' });
    await Promise.all([ref.ask('visit'), ref.ask('visit'), ref.ask('visit')]);
    expect(await ref.ask('get')).toEqual({ name: 'Ada', visits: 3 });
    const stored = await store.durableState.get('profile|ada');
    expect(stored?.value).toEqual({ name: 'Ada', visits: 3 });
    expect(await ref.ask('revision')).toBe(stored?.revision);

    h.clock.advance(100);
    await until(() => h.runtime.activeEntities === 0, 'passivation');
    expect(await ref.ask('get')).toEqual({ name: 'Ada', visits: 3 });
    expect(activations(h.events, 'ada')).toHaveLength(2);
  });

  it('delete removes the stored state; the entity starts over from its initial state', async () => {
    const { store } = await openStore(backend);
    const h = await harness(store);
    h.runtime.register(profile);
    const ref = h.runtime.ref(profile, 'bob');
    await ref.ask('rename', { name: 'Bob' });
    expect(await ref.ask('forget')).toBe('forgotten');
    expect(await store.durableState.get('profile|bob')).toBeUndefined();
    expect(await ref.ask('get')).toEqual({ name: '', visits: 0 });
    expect(await ref.ask('visit')).toBe(1);
  });

  it('a concurrent writer gets ENTITY_CONFLICT, and the entity reloads the other write', async () => {
    const { store } = await openStore(backend);
    const h = await harness(store);
    h.runtime.register(profile);
    const ref = h.runtime.ref(profile, 'cas');
    await ref.ask('rename', { name: 'Mine' });
    const current = await store.durableState.get('profile|cas');
    await store.durableState.upsert('profile|cas', current?.revision ?? 0, { name: 'Theirs', visits: 10 });
    await expect(ref.ask('visit')).rejects.toMatchObject({ code: 'ENTITY_CONFLICT' });
    expect(await ref.ask('visit')).toBe(11);
    expect((await store.durableState.get('profile|cas'))?.value).toEqual({ name: 'Theirs', visits: 11 });
  });
});
