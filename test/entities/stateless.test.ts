import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventSourcedEntity, statelessFunction } from '../../src/index.js';
import { harness, openStore, until } from './support.js';

describe('stateless functions', () => {
  it('answer from a pool of actors, with validation', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const seenWorkers = new Set<string>();
    const greeter = statelessFunction('greeter').command('greet', z.object({ name: z.string().min(1) }), async ({ name }, ctx) => {
      seenWorkers.add(ctx.entityId);
      await Promise.resolve();
      return ctx.reply(`hello, ${name}`);
    });
    h.runtime.register(greeter, { poolSize: 3 });
    const ref = h.runtime.ref(greeter, 'any');
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => ref.ask('greet', { name: `n${i}` })));
    expect(replies).toEqual(Array.from({ length: 30 }, (_, i) => `hello, n${i}`));
    expect(seenWorkers.size).toBe(3);
    await expect(ref.ask('greet', { name: '' })).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
    expect(h.runtime.activeEntities).toBe(0); // workers are not entities
  });

  it('forward to entities, run side effects, and are restarted when they crash', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const ledger = eventSourcedEntity('ledger')
      .initialState(() => 0)
      .events<{ type: 'Posted'; amount: number }>({ Posted: (s, e) => s + e.amount })
      .command('post', z.object({ amount: z.number() }), (_s, { amount }, ctx) => ctx.emit({ type: 'Posted', amount }).thenReply((s) => s));
    const audit: string[] = [];
    const api = statelessFunction('api')
      .command('deposit', z.object({ account: z.string(), amount: z.number().positive() }), ({ account, amount }, ctx) =>
        ctx
          .none()
          .thenRun(() => void audit.push(`deposit ${amount} to ${account}`))
          .thenForward(ctx.entities.ref(ledger, account), 'post', { amount }),
      )
      .command('explode', () => {
        throw new Error('worker bug');
      });
    h.runtime.register(ledger);
    h.runtime.register(api, { poolSize: 1, backoff: { minMs: 10, maxMs: 10, randomFactor: 0 }, maxCommandAttempts: 1 });
    const ref = h.runtime.ref(api, 'x');
    expect(await ref.ask('deposit', { account: 'acc-1', amount: 5 })).toBe(5);
    expect(await ref.ask('deposit', { account: 'acc-1', amount: 7 })).toBe(12);
    expect(audit).toEqual(['deposit 5 to acc-1', 'deposit 7 to acc-1']);

    const boom = ref.ask('explode');
    await until(() => h.events.some((e) => e.type === 'actor.stopped' && e.reason instanceof Error), 'the worker crash');
    h.clock.advance(10);
    await expect(boom).rejects.toMatchObject({ code: 'POISON_COMMAND' });
    expect(await ref.ask('deposit', { account: 'acc-2', amount: 1 })).toBe(1);
  });
});

describe('forwarding between entities', () => {
  it('the forwarded-to entity answers the original caller; failures travel back too', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const inventory = eventSourcedEntity('inventory')
      .initialState(() => 3)
      .events<{ type: 'Reserved' }>({ Reserved: (n) => n - 1 })
      .command('reserve', (n, _i, ctx) => (n > 0 ? ctx.emit({ type: 'Reserved' }).thenReply((left) => ({ left })) : ctx.fail('sold out')));
    const order = eventSourcedEntity('order')
      .initialState(() => ({ placed: false }))
      .events<{ type: 'Placed' }>({ Placed: () => ({ placed: true }) })
      .command('place', z.object({ sku: z.string() }), (_s, { sku }, ctx) =>
        ctx.emit({ type: 'Placed' }).thenForward(ctx.entities.ref(inventory, sku), 'reserve', undefined),
      );
    h.runtime.register(inventory);
    h.runtime.register(order);
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await h.runtime.ref(order, `o${i}`).ask('place', { sku: 'widget' }).catch((e: { code: string; message: string }) => e.message));
    expect(results).toEqual([{ left: 2 }, { left: 1 }, { left: 0 }, 'sold out']);
  });
});
