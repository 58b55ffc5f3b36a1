// The unmodified Kalix JavaScript SDK as the user function (an event-sourced shopping cart written
// to its documented API), driven through the beamstate gateway's client.
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';
import { onCleanup, sdkUnavailable, startHarness, startUserFunction, testStore, uniqueId } from './support.js';

if (sdkUnavailable !== null) console.warn(`skipping the Kalix SDK tests: ${sdkUnavailable}`);

describe.skipIf(sdkUnavailable !== null)('a Kalix SDK shopping cart behind the proxy', () => {
  it('adds, gets and removes items through the gateway client, with the user function\'s failure text', async () => {
    const uf = await startUserFunction('shopping-cart');
    const store = await testStore();
    const h = await startHarness(uf.address, store);
    expect(h.proxy.discovered.serviceInfo.supportLibraryName).toBe('@kalix-io/kalix-javascript-sdk');
    expect(h.proxy.entityTypeOf('com.example.shoppingcart.ShoppingCartService')).toBe('shopping-cart');
    const client = await connect(h.url);
    onCleanup(() => client.close());
    const cart = client.ref('shopping-cart', uniqueId('cart'));

    expect(await cart.ask('AddItem', { productId: 'apple', name: 'Apple', quantity: 2 })).toEqual({});
    expect(await cart.ask('AddItem', { productId: 'pear', name: 'Pear', quantity: 1 })).toEqual({});
    expect(await cart.ask('AddItem', { productId: 'apple', name: 'Apple', quantity: 3 })).toEqual({});
    expect(await cart.ask('GetCart', {})).toEqual({
      items: [
        { productId: 'apple', name: 'Apple', quantity: 5 },
        { productId: 'pear', name: 'Pear', quantity: 1 },
      ],
    });
    await expect(cart.ask('AddItem', { productId: 'plum', name: 'Plum', quantity: 0 })).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      message: 'Quantity for item plum must be greater than zero.',
    });
    await expect(cart.ask('RemoveItem', { productId: 'kiwi' })).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'Cannot remove item kiwi because it is not in the cart.' });
    expect(await cart.ask('RemoveItem', { productId: 'pear' })).toEqual({});
    expect(await cart.ask('GetCart', {})).toEqual({ items: [{ productId: 'apple', name: 'Apple', quantity: 5 }] });
    // One stream served every command of the entity: it stayed in step with the journal.
    expect(h.proxy.streamsOpened).toBe(1);
  });
});
