import { describe, expect, it } from 'vitest';
import { shoppingCart } from '../../examples/shopping-cart.js';
import { activations, backends, harness, openStore } from './support.js';

describe.each(backends)('shopping cart on %s', (backend) => {
  it('adds, removes, reads and checks out; the state survives a restart of the process', async () => {
    const { store } = await openStore(backend);
    const h = await harness(store);
    h.runtime.register(shoppingCart);
    const cart = h.runtime.ref(shoppingCart, 'cart-1');
    await cart.ask('addItem', { sku: 'apple', name: 'Apple', quantity: 2 });
    await cart.ask('addItem', { sku: 'pear', name: 'Pear', quantity: 1 });
    await cart.ask('addItem', { sku: 'apple', name: 'Apple', quantity: 3 });
    const afterRemove = await cart.ask('removeItem', { sku: 'pear' });
    expect(afterRemove.items).toEqual([{ sku: 'apple', name: 'Apple', quantity: 5 }]);
    expect(await cart.ask('getCart')).toEqual({ items: [{ sku: 'apple', name: 'Apple', quantity: 5 }], checkedOut: false });

    const h2 = await h.restart();
    h2.runtime.register(shoppingCart);
    const again = h2.runtime.ref(shoppingCart, 'cart-1');
    expect((await again.ask('getCart')).items).toEqual([{ sku: 'apple', name: 'Apple', quantity: 5 }]);
    expect(activations(h2.events, 'cart-1')[0]).toMatchObject({ sequenceNr: 4, replayed: 4, fromSnapshot: false });
    const checkedOut = await again.ask('checkout');
    expect(checkedOut.checkedOut).toBe(true);
  });

  it('refuses bad commands with clear errors and persists nothing for them', async () => {
    const { store } = await openStore(backend);
    const h = await harness(store);
    h.runtime.register(shoppingCart);
    const cart = h.runtime.ref(shoppingCart, 'cart-2');
    await expect(cart.ask('addItem', { sku: 'apple', name: 'Apple', quantity: -1 })).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      message: 'quantity must be positive, got -1',
    });
    await expect(cart.ask('removeItem', { sku: 'ghost' })).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'item ghost is not in the cart' });
    await expect(cart.ask('addItem', { sku: '', name: 'x', quantity: 1.5 } as never)).rejects.toMatchObject({
      code: 'INVALID_COMMAND',
      issues: expect.arrayContaining([expect.objectContaining({ path: ['sku'] }), expect.objectContaining({ path: ['quantity'] })]),
    });
    await expect(cart.ask('checkout')).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'cannot check out an empty cart' });
    expect(await store.journal.highestSequenceNr('cart|cart-2')).toBe(0);
    // The entity lived on through all of that.
    expect((await cart.ask('addItem', { sku: 'apple', name: 'Apple', quantity: 1 })).items).toHaveLength(1);
  });
});
