// Typed all the way: a client ref typed by an entity definition knows its type name, its commands,
// its events and its state. The type-level checks (expectTypeOf, @ts-expect-error) are checked by
// tsc in the typecheck step; the hovers a user sees are read from the TypeScript language service.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type Cart, type CartEvent, shoppingCart } from '../../examples/shopping-cart.js';
import { type ClientSubscription, connect, type EntityUpdate, type EventOf, type GatewayClient, type StateOf } from '../../src/index.js';
import { counter, greeter, onCleanup, profile, serve } from '../gateway/support.js';

/** Compile-time checks only: the function is type-checked, never called. */
function typeChecks(client: GatewayClient): void {
  // The definition carries its type name as a literal type.
  expectTypeOf(shoppingCart.name).toEqualTypeOf<'cart'>();

  const cart = client.ref<typeof shoppingCart>('cart', 'c1');
  // @ts-expect-error: the definition's type is 'cart', not 'carts'
  client.ref<typeof shoppingCart>('carts', 'c1');
  // @ts-expect-error: a definition given as a value fixes the name too
  client.subscribe<typeof shoppingCart>('Cart', 'c1', { state: true });
  // A definition itself is accepted where its name is.
  expectTypeOf(client.ref(shoppingCart, 'c1')).toEqualTypeOf(cart);

  // Updates carry the definition's event and state types, with no cast.
  void cart.subscribe({ events: true, state: true }, (update) => {
    expectTypeOf(update).toEqualTypeOf<EntityUpdate<CartEvent, Cart>>();
    if (update.kind === 'event') {
      expectTypeOf(update.event).toEqualTypeOf<CartEvent>();
      if (update.event.type === 'ItemAdded') expectTypeOf(update.event.quantity).toEqualTypeOf<number>();
    } else expectTypeOf(update.state).toEqualTypeOf<Cart>();
  });
  expectTypeOf(cart.subscribe({ events: true })).resolves.toEqualTypeOf<ClientSubscription<CartEvent, Cart>>();
  expectTypeOf<ClientSubscription<CartEvent, Cart>>().toExtend<AsyncIterable<EntityUpdate<CartEvent, Cart>>>();
  void client.subscribe(shoppingCart, 'c1', { events: true }, (update) => expectTypeOf(update).toEqualTypeOf<EntityUpdate<CartEvent, Cart>>());
  void client.subscribe<typeof shoppingCart>('cart', 'c1', { state: true }, (update) => expectTypeOf(update).toEqualTypeOf<EntityUpdate<CartEvent, Cart>>());

  // Value entities have a state and no events; stateless functions have neither.
  expectTypeOf<EventOf<typeof profile>>().toBeNever();
  expectTypeOf<StateOf<typeof profile>>().toEqualTypeOf<{ visits: number }>();
  expectTypeOf<EventOf<typeof greeter>>().toBeNever();
  expectTypeOf<StateOf<typeof greeter>>().toBeNever();
  expectTypeOf<EventOf<typeof counter>>().toEqualTypeOf<{ type: 'Added'; n: number }>();

  // An untyped ref takes any name, and its updates are unknown.
  const anything = client.ref('anything', 'x');
  void anything.subscribe({ state: true }, (update) => expectTypeOf(update).toEqualTypeOf<EntityUpdate>());
  expectTypeOf<EntityUpdate>().toEqualTypeOf<EntityUpdate<unknown, unknown>>();
  void client.subscribe('anything', 'x', { events: true }, (update) => expectTypeOf(update).toEqualTypeOf<EntityUpdate>());
}
void typeChecks;

describe('typed client refs', () => {
  it('deliver the definition’s events and state, read without a cast', async () => {
    const { url } = await serve();
    const client = await connect(url, { heartbeatMs: false });
    onCleanup(() => client.close());
    const cart = client.ref<typeof shoppingCart>('cart', 'typed');
    const seen: string[] = [];
    const sub = await cart.subscribe({ events: true, state: true }, (update) => {
      if (update.kind === 'event') seen.push(update.event.type === 'ItemAdded' ? `added ${update.event.quantity} ${update.event.sku}` : update.event.type);
      else seen.push(`state: ${update.state.items.length} items, checked out: ${String(update.state.checkedOut)}`);
    });
    onCleanup(() => sub.unsubscribe());
    await cart.ask('addItem', { sku: 'tea', name: 'Tea', quantity: 2 });
    await cart.ask('checkout');
    for (let i = 0; i < 1000 && seen.length < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['state: 0 items, checked out: false', 'added 2 tea', 'state: 1 items, checked out: false', 'CheckedOut', 'state: 1 items, checked out: true']);
  });
});

describe('hovers', () => {
  /** What the editor shows over each identifier tagged in fixtures/hover.ts. */
  function hovers(): Map<string, string> {
    const file = fileURLToPath(new URL('./fixtures/hover.ts', import.meta.url));
    const config = ts.getParsedCommandLineOfConfigFile(fileURLToPath(new URL('../../tsconfig.json', import.meta.url)), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
    if (config === undefined) throw new Error('tsconfig.json not readable');
    const service = ts.createLanguageService({
      getScriptFileNames: () => [file],
      getScriptVersion: () => '1',
      getScriptSnapshot: (f) => (ts.sys.fileExists(f) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(f) as string) : undefined),
      getCurrentDirectory: () => process.cwd(),
      getCompilationSettings: () => config.options,
      getDefaultLibFileName: ts.getDefaultLibFilePath,
      fileExists: ts.sys.fileExists,
      readFile: ts.sys.readFile,
      readDirectory: ts.sys.readDirectory,
      directoryExists: ts.sys.directoryExists,
      getDirectories: ts.sys.getDirectories,
    });
    expect(service.getSemanticDiagnostics(file).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
    const out = new Map<string, string>();
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\/\*@(\w+)\*\/\s*/g)) {
      const info = service.getQuickInfoAtPosition(file, (m.index as number) + m[0].length);
      out.set(m[1] as string, ts.displayPartsToString(info?.displayParts));
    }
    return out;
  }

  it('name the definition’s types instead of expanding them', { timeout: 60_000 }, () => {
    const shown = hovers();
    expect(Object.fromEntries([...shown].filter(([k]) => k !== 'ref'))).toEqual({
      subscription: 'const sub: ClientSubscription<CartEvent, Cart>',
      update: '(parameter) update: EntityUpdate<CartEvent, Cart>',
      event: 'const event: CartEvent',
      state: 'const state: Cart',
      iterated: 'const next: EntityUpdate<CartEvent, Cart>',
      reply: 'const reply: Cart',
    });
    // The ref lists its commands (by name, input and reply) and names its event and state types.
    const ref = shown.get('ref') as string;
    expect(ref).toMatch(/^const cart: ClientEntityRef<.*, CartEvent, Cart>$/s);
    for (const command of ['addItem', 'removeItem', 'getCart', 'checkout']) expect(ref).toContain(command);
    // Neither the cart's fields nor its events are spelled out.
    expect(ref).not.toMatch(/checkedOut|ItemAdded|LineItem/);
  });
});
