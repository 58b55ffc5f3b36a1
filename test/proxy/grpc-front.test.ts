// The gRPC front: the unmodified Kalix SDK's services served by beamstate over gRPC, driven by a
// grpc-js client built from the user function's own descriptors.
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createActorSystem, EntityRuntime, ManualClock, silentLogger } from '../../src/index.js';
import { bearerTokenOf, type GrpcFrontOptions, startGrpcFront } from '../../src/proxy/grpc-front.js';
import type { Store } from '../../src/persistence/index.js';
import { type CallError, fixtureRoot, type ServiceClient, serviceClient } from './grpc-client.js';
import { onCleanup, type ProxyHarness, sdkUnavailable, startHarness, startUserFunction, testStore, uniqueId } from './support.js';
import { type ProxyOptions, startProxy } from '../../src/proxy/index.js';

if (sdkUnavailable !== null) console.warn(`skipping the gRPC front tests: ${sdkUnavailable}`);

const CART = 'com.example.shoppingcart.ShoppingCartService';
const GRPC_CART = 'com.example.grpccart.GrpcCartService';

interface Served {
  readonly h: ProxyHarness;
  readonly store: Store;
  readonly client: ServiceClient;
  readonly address: string;
}

async function serve(fixture: string, serviceName: string, options: { proxy?: Partial<ProxyOptions>; front?: Partial<GrpcFrontOptions>; port?: number } = {}): Promise<Served & { uf: Awaited<ReturnType<typeof startUserFunction>> }> {
  const uf = await startUserFunction(fixture, options.port);
  const store = await testStore();
  const h = await startHarness(uf.address, store, options.proxy);
  const front = await startGrpcFront({ proxy: h.proxy, runtime: h.runtime, ...options.front });
  onCleanup(() => front.close());
  const client = serviceClient(fixtureRoot(fixture), serviceName, front.address);
  onCleanup(() => client.close());
  return { uf, h, store, client, address: front.address };
}

/** The call's rejection, as a {@link CallError}. */
async function failed(p: Promise<unknown>): Promise<CallError> {
  const out = await p.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, err: err as CallError }),
  );
  if (out.ok) throw new Error(`expected the call to fail, it answered ${JSON.stringify(out.value)}`);
  return out.err;
}

describe.skipIf(sdkUnavailable !== null)('the gRPC front', () => {
  it('serves the SDK shopping cart over gRPC: calls routed by cart_id, replies as the output message, the same entities as the gateway', async () => {
    const { h, store, client } = await serve('shopping-cart', CART);
    const [a, b] = [uniqueId('cart'), uniqueId('cart')];
    expect(await client.call('AddItem', { cartId: a, productId: 'apple', name: 'Apple', quantity: 2 })).toEqual({});
    expect(await client.call('AddItem', { cartId: b, productId: 'pear', name: 'Pear', quantity: 1 })).toEqual({});
    expect(await client.call('AddItem', { cartId: a, productId: 'apple', name: 'Apple', quantity: 3 })).toEqual({});
    expect(await client.call('AddItem', { cartId: a, productId: 'fig', name: 'Fig', quantity: 1 })).toEqual({});
    expect(await client.call('GetCart', { cartId: a })).toEqual({
      items: [
        { productId: 'apple', name: 'Apple', quantity: 5 },
        { productId: 'fig', name: 'Fig', quantity: 1 },
      ],
    });
    expect(await client.call('GetCart', { cartId: b })).toEqual({ items: [{ productId: 'pear', name: 'Pear', quantity: 1 }] });
    expect(await client.call('RemoveItem', { cartId: a, productId: 'fig' })).toEqual({});
    // The entity the call was routed to is the one the gateway and in-process refs address by id.
    expect(await h.runtime.refFor('shopping-cart', a).ask('GetCart', {})).toEqual({ items: [{ productId: 'apple', name: 'Apple', quantity: 5 }] });
    expect((await store.journal.read(`shopping-cart|${a}`)).filter((e) => e.type === 'KalixEvent')).toHaveLength(4);
    expect((await store.journal.read(`shopping-cart|${b}`)).filter((e) => e.type === 'KalixEvent')).toHaveLength(1);
    // A cart nobody wrote to is the user function's empty cart.
    expect(await client.call('GetCart', { cartId: uniqueId('cart') })).toEqual({ items: [] });
  });

  it("answers the user function's failures with its status (UNKNOWN when it gave none, as Kalix does) and its text; nothing is persisted", async () => {
    const { store, client } = await serve('grpc-cart', GRPC_CART);
    const id = uniqueId('cart');
    await client.call('AddItem', { cartId: id, productId: 'a', quantity: 1 });
    const none = await failed(client.call('AddItem', { cartId: id, productId: 'plum', quantity: 0 }));
    expect(none).toEqual({ code: status.UNKNOWN, details: 'Quantity for item plum must be greater than zero.', beamstateCode: 'COMMAND_FAILED' });
    const notFound = await failed(client.call('RemoveItem', { cartId: id, productId: 'kiwi' }));
    expect(notFound).toEqual({ code: status.NOT_FOUND, details: 'Item kiwi is not in the cart.', beamstateCode: 'COMMAND_FAILED' });
    expect(await store.journal.read(`grpc-cart|${id}`).then((j) => j.filter((e) => e.type === 'KalixEvent').length)).toBe(1);
    expect(await client.call('GetCart', { cartId: id })).toEqual({ items: [{ productId: 'a', quantity: 1 }] });
  });

  it("routes by every key field, in declaration order, joined by '-'", async () => {
    const { h, client } = await serve('grpc-cart', GRPC_CART);
    const shop = uniqueId('shop');
    expect(await client.call('AddToShopCart', { shop, cart: 'c1', productId: 'x' })).toEqual({ items: [{ productId: 'x', quantity: 1 }] });
    expect(await client.call('AddToShopCart', { cart: 'c1', productId: 'x', shop })).toEqual({ items: [{ productId: 'x', quantity: 2 }] });
    expect(await client.call('AddToShopCart', { shop, cart: 'c2', productId: 'y' })).toEqual({ items: [{ productId: 'y', quantity: 1 }] });
    expect(await h.runtime.refFor('grpc-cart', `${shop}-c1`).ask('GetCart', {})).toEqual({ items: [{ productId: 'x', quantity: 2 }] });
    expect(await h.runtime.refFor('grpc-cart', `${shop}-c2`).ask('GetCart', {})).toEqual({ items: [{ productId: 'y', quantity: 1 }] });
  });

  it('malformed input: bytes that are not the input message, an empty key, an unknown method or service, a huge message — each a clear status, and it goes on serving', async () => {
    const { store, client, address } = await serve('shopping-cart', CART);
    const id = uniqueId('cart');
    const truncated = await failed(client.callRaw('AddItem', Uint8Array.from([0x0a, 0x05, 0x41])));
    expect(truncated).toMatchObject({ code: status.INVALID_ARGUMENT, beamstateCode: 'MALFORMED_MESSAGE' });
    expect(truncated.details).toContain('com.example.shoppingcart.AddLineItem');
    // cart_id "x" followed by a product_id of invalid UTF-8.
    const badUtf8 = await failed(client.callRaw('AddItem', Uint8Array.from([0x0a, 0x01, 0x78, 0x12, 0x02, 0xff, 0xfe])));
    expect(badUtf8).toMatchObject({ code: status.INVALID_ARGUMENT, beamstateCode: 'MALFORMED_MESSAGE' });
    expect(await failed(client.call('AddItem', { cartId: '', productId: 'a', name: 'A', quantity: 1 }))).toMatchObject({ code: status.INVALID_ARGUMENT, beamstateCode: 'INVALID_ENTITY_ID' });
    expect(await failed(client.callRaw('Checkout', Uint8Array.from([])))).toMatchObject({ code: status.UNIMPLEMENTED });
    const other = serviceClient(fixtureRoot('shopping-cart'), 'com.example.shoppingcart.NoSuchService', address);
    onCleanup(() => other.close());
    expect(await failed(other.callRaw('AddItem', Uint8Array.from([])))).toMatchObject({ code: status.UNIMPLEMENTED });
    const huge = await failed(client.call('AddItem', { cartId: id, productId: 'h'.repeat(5 * 1024 * 1024), name: 'H', quantity: 1 }));
    expect(huge.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(await store.journal.read(`shopping-cart|${id}`)).toEqual([]);
    expect(await client.call('AddItem', { cartId: id, productId: 'a', name: 'A', quantity: 1 })).toEqual({});
    expect(await client.call('GetCart', { cartId: id })).toEqual({ items: [{ productId: 'a', name: 'A', quantity: 1 }] });
  });

  it('a streamed method and a method whose input has no entity key are UNIMPLEMENTED, with the reason', async () => {
    const { client } = await serve('grpc-cart', GRPC_CART);
    const streamed = await failed(client.stream('WatchCart', { cartId: uniqueId('cart') }));
    expect(streamed).toMatchObject({ code: status.UNIMPLEMENTED, beamstateCode: 'UNSUPPORTED_COMPONENT' });
    expect(streamed.details).toContain('streamed call WatchCart');
    const keyless = await failed(client.call('Broadcast', { note: 'hi' }));
    expect(keyless).toMatchObject({ code: status.UNIMPLEMENTED, beamstateCode: 'NO_ENTITY_KEY' });
    expect(keyless.details).toContain('com.example.grpccart.NoKey has no field marked (kalix.field).entity_key = true');
    expect(await client.call('GetCart', { cartId: uniqueId('cart') })).toEqual({ items: [] });
  });

  it('serves value entities (routed by counter_id) and actions (no key: any worker) over gRPC, forwards included', async () => {
    const { h, client, address } = await serve('counter', 'com.example.counter.CounterService');
    const actions = serviceClient(fixtureRoot('counter'), 'com.example.counter.CounterActions', address);
    onCleanup(() => actions.close());
    const [a, b] = [uniqueId('counter'), uniqueId('counter')];
    expect(await client.call('Increase', { counterId: a, value: 5 })).toEqual({});
    expect(await client.call('Increase', { counterId: b, value: 1 })).toEqual({});
    expect(await actions.call('IncreaseTwice', { counterId: a, value: 3 })).toEqual({}); // forwarded to counter a's Increase
    // An action's input may carry key fields; they do not route the call (any worker takes it): an
    // empty one reaches the action, whose side effect to counter "" is then what is refused.
    expect(await failed(actions.call('IncreaseAndTell', { counterId: '', value: 1 }))).toMatchObject({ code: status.UNIMPLEMENTED, beamstateCode: 'COMMAND_FAILED' });
    expect(await client.call('GetCurrentCounter', { counterId: a })).toEqual({ value: 11 });
    expect(await client.call('GetCurrentCounter', { counterId: b })).toEqual({ value: 1 });
    expect(await h.runtime.refFor('counter', a).ask('GetCurrentCounter', {})).toEqual({ value: 11 });
    expect(await failed(client.call('Increase', { counterId: a, value: -1 }))).toEqual({ code: status.UNKNOWN, details: 'Increase requires a positive value. It was [-1].', beamstateCode: 'COMMAND_FAILED' });
    expect(await actions.call('Greet', { name: 'Ada' })).toEqual({ message: 'Hello, Ada!' });
    expect(await failed(actions.call('Greet', { name: '' }))).toEqual({ code: status.UNKNOWN, details: 'a name is required', beamstateCode: 'COMMAND_FAILED' });
    expect(await failed(actions.stream('Countdown', { from: 3 }))).toMatchObject({ code: status.UNIMPLEMENTED });
  });

  it('an authenticate hook decides each call from its metadata: UNAUTHENTICATED before anything reaches the entity', async () => {
    const seen: (string | undefined)[] = [];
    const { store, address } = await serve('shopping-cart', CART, {
      front: {
        authenticate: (metadata) => {
          const token = bearerTokenOf(metadata);
          seen.push(token);
          if (token === 'boom') throw new Error('the hook failed');
          return token === 's3cret';
        },
      },
    });
    const id = uniqueId('cart');
    const add = { cartId: id, productId: 'a', name: 'A', quantity: 1 };
    const clients = ['s3cret', 'wrong', undefined, 'boom'].map((token) => serviceClient(fixtureRoot('shopping-cart'), CART, address, token === undefined ? {} : { token }));
    for (const c of clients) onCleanup(() => c.close());
    const [right, wrong, none, boom] = clients as [ServiceClient, ServiceClient, ServiceClient, ServiceClient];
    expect(await failed(wrong.call('AddItem', add))).toEqual({ code: status.UNAUTHENTICATED, details: 'authentication required', beamstateCode: 'UNAUTHENTICATED' });
    expect(await failed(none.call('AddItem', add))).toMatchObject({ code: status.UNAUTHENTICATED, beamstateCode: 'UNAUTHENTICATED' });
    expect(await failed(boom.call('AddItem', add))).toEqual({ code: status.UNAUTHENTICATED, details: 'authentication could not be checked', beamstateCode: 'AUTHENTICATION_FAILED' });
    expect(await store.journal.read(`shopping-cart|${id}`)).toEqual([]);
    expect(await right.call('AddItem', add)).toEqual({});
    expect(seen).toEqual(['wrong', undefined, 'boom', 's3cret']);
  });

  /** The counter fixture behind a proxy and a front on a ManualClock (the system's: ask timeouts, the proxy's command timeout). */
  async function onManualClock(proxyOptions: Partial<ProxyOptions>, frontOptions: Partial<GrpcFrontOptions>) {
    const uf = await startUserFunction('counter');
    const store = await testStore();
    const clock = new ManualClock();
    const system = createActorSystem({ logger: silentLogger, clock });
    const runtime = new EntityRuntime(system, { store });
    const proxy = await startProxy({ userFunction: uf.address, runtime, ...proxyOptions });
    onCleanup(async () => {
      await runtime.stop();
      await proxy.close();
      await system.stop();
    });
    const front = await startGrpcFront({ proxy, runtime, ...frontOptions });
    onCleanup(() => front.close());
    const client = serviceClient(fixtureRoot('counter'), 'com.example.counter.CounterService', front.address);
    onCleanup(() => client.close());
    /** Resolves once the user function has logged that it is hanging on `id` (the fixture never answers an Increase of 99). */
    const hanging = async (id: string): Promise<void> => {
      for (let i = 0; i < 200 && !uf.output().includes(`hanging ${id}`); i++) await new Promise((resolve) => uf.child.stdout?.once('data', resolve));
      expect(uf.output()).toContain(`hanging ${id}`);
    };
    return { clock, client, hanging };
  }

  it('a call without a deadline waits callTimeoutMs (on the system clock) for an entity that never answers: DEADLINE_EXCEEDED; other entities go on, and the entity after the stream times out', async () => {
    const { clock, client, hanging } = await onManualClock({}, { callTimeoutMs: 1000 }); // commandTimeoutMs 10 000
    const [a, b] = [uniqueId('counter'), uniqueId('counter')];
    const hung = failed(client.call('Increase', { counterId: a, value: 99 }));
    await hanging(a);
    expect(await client.call('Increase', { counterId: b, value: 1 })).toEqual({});
    clock.advance(1000);
    expect(await hung).toMatchObject({ code: status.DEADLINE_EXCEEDED, beamstateCode: 'ASK_TIMEOUT' });
    clock.advance(9000); // the proxy's commandTimeoutMs: the stream is ended, nothing was written
    expect(await client.call('Increase', { counterId: a, value: 2 })).toEqual({});
    expect(await client.call('GetCurrentCounter', { counterId: a })).toEqual({ value: 2 });
    expect(await client.call('GetCurrentCounter', { counterId: b })).toEqual({ value: 1 });
  });

  it("a call's deadline is how long it waits for its entity (answered by the server, before the client's own deadline fires)", async () => {
    const { clock, client, hanging } = await onManualClock({ commandTimeoutMs: 1e9 }, { callTimeoutMs: 1e9 });
    const id = uniqueId('counter');
    let settled = false;
    const hung = failed(client.call('Increase', { counterId: id, value: 99 }, { deadline: Date.now() + 60_000 })).finally(() => (settled = true));
    await hanging(id);
    clock.advance(50_000);
    expect(await client.call('GetCurrentCounter', { counterId: uniqueId('counter') })).toEqual({ value: 0 }); // a round trip later
    expect(settled).toBe(false);
    clock.advance(10_000);
    // The server's answer (it carries the trailer; the client's own deadline would not).
    expect(await hung).toMatchObject({ code: status.DEADLINE_EXCEEDED, beamstateCode: 'ASK_TIMEOUT' });
    clock.advance(1e9); // the proxy's command timeout ends the hung stream, so that the runtime can stop
  });

  it('a user function that is gone: calls fail UNAVAILABLE; when it returns, the next call finds the state from the journal', async () => {
    // Restarts back off up to 50 ms so that the crash retries fit well inside the call's time.
    const served = await serve('shopping-cart', CART, { proxy: { settings: { backoff: { minMs: 5, maxMs: 50 } } } });
    const { client } = served;
    const id = uniqueId('cart');
    await client.call('AddItem', { cartId: id, productId: 'a', name: 'A', quantity: 2 });
    await served.uf.kill();
    const down = await failed(client.call('AddItem', { cartId: id, productId: 'b', name: 'B', quantity: 1 }));
    expect(down.code).toBe(status.UNAVAILABLE);
    expect(['USER_FUNCTION_UNAVAILABLE', 'POISON_COMMAND']).toContain(down.beamstateCode);
    await startUserFunction('shopping-cart', served.uf.port);
    let reply: unknown;
    for (let attempt = 0; attempt < 50 && reply === undefined; attempt++) reply = await client.call('GetCart', { cartId: id }).catch(() => undefined);
    expect(reply).toEqual({ items: [{ productId: 'a', name: 'A', quantity: 2 }] });
  });
});
