// The shopping cart, end to end over real sockets, through the typed client, in both formats.
import { describe, expect, it } from 'vitest';
import { connect, isBeamstateError, RemoteError } from '../../src/index.js';
import type { shoppingCart } from '../../examples/shopping-cart.js';
import { onCleanup, serve } from './support.js';

describe.each(['json', 'msgpack'] as const)('the shopping cart over %s', (format) => {
  it('adds, removes, refuses and checks out, with the entity layer’s error codes preserved', async () => {
    const { url, runtime } = await serve();
    const client = await connect(url, { format });
    onCleanup(() => client.close());
    expect(client.format).toBe(format);
    const cart = client.ref<typeof shoppingCart>('cart', 'c1');

    const afterAdd = await cart.ask('addItem', { sku: 'apple', name: 'Apple', quantity: 2 });
    expect(afterAdd).toEqual({ items: [{ sku: 'apple', name: 'Apple', quantity: 2 }], checkedOut: false });
    await cart.ask('addItem', { sku: 'pear', name: 'Pear', quantity: 1 });
    await cart.ask('addItem', { sku: 'apple', name: 'Apple', quantity: 3 });
    expect((await cart.ask('removeItem', { sku: 'pear' })).items).toEqual([{ sku: 'apple', name: 'Apple', quantity: 5 }]);

    // The handler's ctx.fail: COMMAND_FAILED with its message.
    const failed = await cart.ask('removeItem', { sku: 'kiwi' }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(RemoteError);
    expect(isBeamstateError(failed, 'COMMAND_FAILED')).toBe(true);
    expect((failed as Error).message).toBe('item kiwi is not in the cart');

    // The schema: INVALID_COMMAND with its issues, and the handler never ran.
    const invalid = (await cart.ask('addItem', { sku: 'fig', quantity: 1 } as never).catch((e: unknown) => e)) as RemoteError;
    expect(invalid.code).toBe('INVALID_COMMAND');
    expect(invalid.issues?.map((i) => i.path)).toEqual([['name']]);

    const checkedOut = await cart.ask('checkout');
    expect(checkedOut.checkedOut).toBe(true);
    const again = (await cart.ask('checkout').catch((e: unknown) => e)) as RemoteError;
    expect(again.code).toBe('COMMAND_FAILED');
    expect(again.message).toBe('the cart is already checked out');

    // What the client saw is what the runtime holds.
    expect(await runtime.refFor('cart', 'c1').ask('getCart')).toEqual({ items: [{ sku: 'apple', name: 'Apple', quantity: 5 }], checkedOut: true });
  });

  it('answers unknown types, unknown commands and bad entity ids with the entity layer’s codes', async () => {
    const { url } = await serve();
    const client = await connect(url, { format });
    onCleanup(() => client.close());
    expect(((await client.ask('nope', 'x', 'get').catch((e: unknown) => e)) as RemoteError).code).toBe('UNKNOWN_ENTITY_TYPE');
    expect(((await client.ask('cart', 'x', 'fly').catch((e: unknown) => e)) as RemoteError).code).toBe('UNKNOWN_COMMAND');
    expect(((await client.ask('cart', '', 'getCart').catch((e: unknown) => e)) as RemoteError).code).toBe('INVALID_ENTITY_ID');
    expect(((await client.ask('cart', 'x'.repeat(513), 'getCart').catch((e: unknown) => e)) as RemoteError).code).toBe('INVALID_ENTITY_ID');
    // A command without input given one: INVALID_COMMAND, as in process.
    expect(((await client.ask('cart', 'x', 'getCart', { extra: 1 }).catch((e: unknown) => e)) as RemoteError).code).toBe('INVALID_COMMAND');
  });

  it('passes ctx.fail details, value entities and stateless functions through', async () => {
    const { url } = await serve();
    const client = await connect(url, { format });
    onCleanup(() => client.close());
    const failed = (await client.ask('counter', 'a', 'fail').catch((e: unknown) => e)) as RemoteError;
    expect(failed.code).toBe('COMMAND_FAILED');
    expect(failed.details).toEqual({ reason: 'because' });
    expect(await client.ask('profile', 'p', 'visit')).toBe(1);
    expect(await client.ask('profile', 'p', 'visit')).toBe(2);
    expect(await client.ask('greeter', 'any', 'greet', { name: 'Ada' })).toBe('hello, Ada');
    // A command that replies nothing answers null.
    expect(await client.ask('counter', 'a', 'noop')).toBeNull();
  });
});
