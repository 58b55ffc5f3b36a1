// The shopping cart: an event-sourced entity. Every change is an event in the journal; the cart's
// state is the fold of its events, so a crash or a restart costs nothing.
import { z } from 'zod';
import { eventSourcedEntity } from '../src/index.js';

export interface LineItem {
  readonly sku: string;
  readonly name: string;
  readonly quantity: number;
}

export interface Cart {
  readonly items: readonly LineItem[];
  readonly checkedOut: boolean;
}

export type CartEvent =
  | { readonly type: 'ItemAdded'; readonly sku: string; readonly name: string; readonly quantity: number }
  | { readonly type: 'ItemRemoved'; readonly sku: string }
  // `at`: when, in epoch milliseconds (wall-clock time from ctx.now(), meaningful after a restart).
  | { readonly type: 'CheckedOut'; readonly at: number };

const Sku = z.string().min(1).max(64);

export const AddItem = z.object({
  sku: Sku,
  name: z.string().min(1).max(200),
  // Any integer passes the schema; the handler explains why zero or a negative one is refused.
  quantity: z.number().int(),
});

export const RemoveItem = z.object({ sku: Sku });

export const shoppingCart = eventSourcedEntity('cart')
  .initialState((): Cart => ({ items: [], checkedOut: false }))
  .events<CartEvent>({
    ItemAdded(cart, e) {
      const existing = cart.items.find((i) => i.sku === e.sku);
      const items = existing
        ? cart.items.map((i) => (i.sku === e.sku ? { ...i, quantity: i.quantity + e.quantity } : i))
        : [...cart.items, { sku: e.sku, name: e.name, quantity: e.quantity }];
      return { ...cart, items };
    },
    ItemRemoved: (cart, e) => ({ ...cart, items: cart.items.filter((i) => i.sku !== e.sku) }),
    CheckedOut: (cart) => ({ ...cart, checkedOut: true }),
  })
  .command('addItem', AddItem, (cart, item, ctx) => {
    if (cart.checkedOut) return ctx.fail('the cart is already checked out');
    if (item.quantity <= 0) return ctx.fail(`quantity must be positive, got ${item.quantity}`);
    return ctx.emit({ type: 'ItemAdded', sku: item.sku, name: item.name, quantity: item.quantity }).thenReply((c) => c);
  })
  .command('removeItem', RemoveItem, (cart, { sku }, ctx) => {
    if (cart.checkedOut) return ctx.fail('the cart is already checked out');
    if (!cart.items.some((i) => i.sku === sku)) return ctx.fail(`item ${sku} is not in the cart`);
    return ctx.emit({ type: 'ItemRemoved', sku }).thenReply((c) => c);
  })
  .command('getCart', (cart, _input, ctx) => ctx.reply(cart))
  .command('checkout', (cart, _input, ctx) => {
    if (cart.checkedOut) return ctx.fail('the cart is already checked out');
    if (cart.items.length === 0) return ctx.fail('cannot check out an empty cart');
    // ctx.now() rather than Date.now(): the same wall-clock time, but a ManualClock controls it in tests.
    return ctx.emit({ type: 'CheckedOut', at: ctx.now() }).thenReply((c) => c);
  });
