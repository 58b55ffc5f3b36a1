import { describe, expect, it } from 'vitest';
import { shoppingCart, type CartEvent } from '../../examples/shopping-cart.js';
import { createActorSystem, EntityRuntime, ManualClock, valueEntity } from '../../src/index.js';
import { createStore } from '../../src/persistence/index.js';

const stamp = valueEntity('stamp')
  .initialState((): { at: number[] } => ({ at: [] }))
  .command('now', (_state, _input, ctx) => ctx.reply(ctx.now()));

async function runtimeOn(clock?: ManualClock) {
  const store = await createStore({ kind: 'memory' });
  const system = createActorSystem(clock === undefined ? {} : { clock });
  const runtime = new EntityRuntime(system, { store });
  return {
    store,
    runtime,
    [Symbol.asyncDispose]: async () => {
      await system.stop();
      await store.close();
    },
  };
}

describe('ctx.now() is wall-clock time', () => {
  it('under a ManualClock with a wall start, a handler reads that epoch time, and it moves with advance()', async () => {
    const wall = Date.UTC(2030, 5, 15, 12, 0, 0);
    const clock = new ManualClock({ monotonic: 5_000, wall });
    await using t = await runtimeOn(clock);
    t.runtime.register(stamp);
    const ref = t.runtime.ref(stamp, 's1');
    expect(await ref.ask('now')).toBe(wall);
    clock.advance(1_500);
    expect(await ref.ask('now')).toBe(wall + 1_500);
  });

  it('on the real clock, a handler reads Date.now(), not a reading from the process start', async () => {
    await using t = await runtimeOn();
    t.runtime.register(stamp);
    const before = Date.now();
    const at = await t.runtime.ref(stamp, 's1').ask('now');
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });

  it("the shopping cart's checkout persists its time in epoch milliseconds", async () => {
    const wall = Date.UTC(2031, 0, 2, 3, 4, 5);
    const clock = new ManualClock({ wall });
    await using t = await runtimeOn(clock);
    t.runtime.register(shoppingCart);
    const cart = t.runtime.ref(shoppingCart, 'c1');
    await cart.ask('addItem', { sku: 'tea', name: 'Tea', quantity: 1 });
    clock.advance(60_000);
    await cart.ask('checkout');
    const events = (await t.store.journal.read('cart|c1')).map((e) => e.payload as CartEvent);
    expect(events.at(-1)).toEqual({ type: 'CheckedOut', at: wall + 60_000 });
    const checkedOut = events.at(-1) as Extract<CartEvent, { type: 'CheckedOut' }>;
    expect(new Date(checkedOut.at).toISOString()).toBe('2031-01-02T03:05:05.000Z');
  });
});
