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

  it('recovers from snapshot + tail when proxy and user function both restart (nothing kept in either memory)', async () => {
    const store = await testStore();
    const id = uniqueId('cart');
    let uf = await startUserFunction('shopping-cart'); // snapshot every 5 events
    let h = await startHarness(uf.address, store);
    const cart = h.runtime.refFor('shopping-cart', id);
    for (let i = 0; i < 7; i++) await cart.ask('AddItem', { productId: `p${i % 3}`, name: `P${i % 3}`, quantity: i + 1 });
    const before = await cart.ask('GetCart', {});
    // The journal: 7 events and the user function's snapshot after the 5th, in the same append.
    const journal = await store.journal.read(`shopping-cart|${id}`);
    expect(journal.map((e) => e.type)).toEqual(['KalixEvent', 'KalixEvent', 'KalixEvent', 'KalixEvent', 'KalixEvent', 'KalixSnapshot', 'KalixEvent', 'KalixEvent']);
    expect(new Set(journal.slice(4, 6).map((e) => e.timestamp)).size).toBe(1);
    await h.stop();
    await uf.kill();

    uf = await startUserFunction('shopping-cart');
    h = await startHarness(uf.address, store);
    expect(await h.runtime.refFor('shopping-cart', id).ask('GetCart', {})).toEqual(before);
    expect(before).toEqual({
      items: [
        { productId: 'p0', name: 'P0', quantity: 1 + 4 + 7 },
        { productId: 'p1', name: 'P1', quantity: 2 + 5 },
        { productId: 'p2', name: 'P2', quantity: 3 + 6 },
      ],
    });
  });

  it('kill -9 of the user function under load: no acknowledged command is lost, and the entity recovers when it returns', async () => {
    const store = await testStore();
    let uf = await startUserFunction('shopping-cart');
    // Restarts back off up to 50 ms (not 2 s), so that three tries fit in an ask's 5 s however many crashes came before.
    const h = await startHarness(uf.address, store, { settings: { backoff: { minMs: 5, maxMs: 50 } } });
    const ids = [uniqueId('load'), uniqueId('load'), uniqueId('load'), uniqueId('load')];
    const acked = new Map(ids.map((id) => [id, 0]));
    const errors = new Set<string>();
    let killed = false;
    // Four writers, one command at a time each; the user function is killed after 20 acks.
    await Promise.all(
      ids.map(async (id) => {
        const cart = h.runtime.refFor('shopping-cart', id);
        for (let i = 0; i < 15; i++) {
          try {
            await cart.ask('AddItem', { productId: 'x', name: 'X', quantity: 1 });
            acked.set(id, (acked.get(id) ?? 0) + 1);
          } catch (err) {
            errors.add((err as { code: string }).code);
          }
          if (!killed && [...acked.values()].reduce((a, b) => a + b) >= 20) {
            killed = true;
            await uf.kill();
          }
        }
      }),
    );
    expect(killed).toBe(true);
    // What failed, failed with a clear code: retried on a fresh stream, then POISON_COMMAND.
    expect([...errors]).toEqual(['POISON_COMMAND']);
    uf = await startUserFunction('shopping-cart', uf.port);
    for (const id of ids) {
      const cart = h.runtime.refFor('shopping-cart', id);
      let reply: unknown;
      for (let attempt = 0; attempt < 50 && reply === undefined; attempt++) reply = await cart.ask('GetCart', {}).catch(() => undefined);
      // Exactly the acknowledged commands: a failed command persisted nothing.
      const quantity = acked.get(id) ?? 0;
      expect(reply).toEqual(quantity === 0 ? {} : { items: [{ productId: 'x', name: 'X', quantity }] });
    }
  });

  it("a user function handler that throws crashes the entity (retried, then POISON_COMMAND); nothing is persisted and the entity goes on", async () => {
    const uf = await startUserFunction('shopping-cart');
    const store = await testStore();
    const h = await startHarness(uf.address, store);
    const id = uniqueId('cart');
    const cart = h.runtime.refFor('shopping-cart', id);
    await cart.ask('AddItem', { productId: 'a', name: 'A', quantity: 1 });
    const err = (await cart.ask('AddItem', { productId: 'crash', name: 'C', quantity: 1 }).catch((e: unknown) => e)) as Error & { code: string; cause: { code: string; message: string } };
    expect(err.code).toBe('POISON_COMMAND');
    expect(err.cause.code).toBe('USER_FUNCTION_FAILED');
    expect(err.cause.message).toContain("AddItem failed in the user function: Error handling command 'AddItem': Error: the handler crashed on purpose");
    expect(await cart.ask('GetCart', {})).toEqual({ items: [{ productId: 'a', name: 'A', quantity: 1 }] });
    expect((await store.journal.read(`shopping-cart|${id}`)).length).toBe(1);
  });

  it('malformed input through the gateway: an unknown method, a payload that is not the message type', async () => {
    const uf = await startUserFunction('shopping-cart');
    const h = await startHarness(uf.address, await testStore());
    const client = await connect(h.url);
    onCleanup(() => client.close());
    const cart = client.ref('shopping-cart', uniqueId('cart'));
    await expect(cart.ask('Checkout', {})).rejects.toMatchObject({ code: 'UNKNOWN_COMMAND' });
    await expect(cart.ask('AddItem', { productId: 'a', quantity: 'lots' })).rejects.toMatchObject({ code: 'INVALID_COMMAND', message: expect.stringContaining('com.example.shoppingcart.AddLineItem') });
    await expect(cart.ask('AddItem', { productId: 'a', colour: 'red' })).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
    await expect(cart.ask('AddItem', [1, 2])).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
    // And it goes on serving.
    expect(await cart.ask('AddItem', { productId: 'a', name: 'A', quantity: 1 })).toEqual({});
  });
});
