// Event-sourced entities per the Kalix protocol, against a scripted fake user function: snapshots
// the proxy asks for (snapshot_request / snapshot_reply), delete, forwards and side effects.
import { describe, expect, it } from 'vitest';
import { createActorSystem, EntityRuntime, ManualClock, silentLogger } from '../../src/index.js';
import { createStore, type Store } from '../../src/persistence/index.js';
import { type ProxyOptions, startProxy } from '../../src/proxy/index.js';
import { until } from '../entities/support.js';
import { counterRoot, counterScript, fileDescriptorSet, startFake, type Script, type StreamIn, withEntityKey } from './fake-user-function.js';
import { onCleanup, sdkUnavailable, startHarness, startUserFunction, testStore, uniqueId } from './support.js';

async function memoryStore(): Promise<Store> {
  const store = await createStore({ kind: 'memory', logger: silentLogger });
  onCleanup(() => store.close());
  return store;
}

/** A proxy on `store`; stop() ends it (runtime, proxy, system) so that another can recover from the same store. */
async function proxied(address: string, store: Store, options: Partial<ProxyOptions> = {}) {
  const system = createActorSystem({ logger: silentLogger });
  const runtime = new EntityRuntime(system, { store });
  const proxy = await startProxy({ userFunction: address, runtime, settings: { backoff: { minMs: 0, maxMs: 0, randomFactor: 0 } }, ...options });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await runtime.stop();
    await proxy.close();
    await system.stop();
  };
  onCleanup(stop);
  return { system, runtime, proxy, stop };
}

const types = async (store: Store, id: string): Promise<string[]> => (await store.journal.read(`counter|${id}`)).map((e) => e.type);
const inits = (streams: StreamIn[][], entityId: string) =>
  streams
    .filter((s) => s[0]?.init?.entityId === entityId)
    .map((s) => ({ snapshotSequence: s[0]?.init?.snapshot?.snapshotSequence, events: s.filter((m) => m.event !== undefined).map((m) => m.event?.sequence) }));

describe('snapshot_request / snapshot_reply', () => {
  it('with snapshotRequestEvery, the proxy asks for a snapshot and writes it with the next command; recovery inits from it and the tail', async () => {
    const fake = await startFake();
    const store = await memoryStore();
    const first = await proxied(fake.address, store, { snapshotRequestEvery: 2 });
    const a = first.runtime.refFor('counter', 'a');
    expect(await a.ask('Add', { n: 1 })).toEqual({ value: 1 });
    expect(await a.ask('Add', { n: 2 })).toEqual({ value: 3 });
    expect(fake.streams[0]?.some((m) => m.snapshotRequest !== undefined)).toBe(false);
    expect(await a.ask('Add', { n: 4 })).toEqual({ value: 7 }); // 2 events since none: asked first
    expect(fake.streams[0]?.map((m) => Object.keys(m)[0])).toEqual(['init', 'command', 'command', 'snapshotRequest', 'command']);
    expect(await types(store, 'a')).toEqual(['KalixEvent', 'KalixEvent', 'KalixSnapshot', 'KalixEvent']);
    const snapshot = (await store.journal.read('counter|a'))[2]?.payload as { seq: number };
    expect(snapshot.seq).toBe(2);
    expect(await a.ask('Get', {})).toEqual({ value: 7 }); // 1 event since the snapshot: not asked
    await first.stop();

    const second = await proxied(fake.address, store, { snapshotRequestEvery: 2 });
    expect(await second.runtime.refFor('counter', 'a').ask('Get', {})).toEqual({ value: 7 });
    expect(inits(fake.streams, 'a').at(-1)).toEqual({ snapshotSequence: 2, events: [3] });
  });

  it('a snapshot reply for another request: PROXY_PROTOCOL_ERROR, the command is not sent, nothing persisted', async () => {
    const wrong: Script = (msg, write, s) => {
      if (msg.snapshotRequest) write({ snapshotReply: { requestId: msg.snapshotRequest.requestId + 1, snapshot: { typeUrl: 'type.googleapis.com/test.counter.Value', value: new Uint8Array() } } });
      else counterScript(msg, write, s);
    };
    const fake = await startFake({ script: wrong });
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store, { snapshotRequestEvery: 1 });
    const a = runtime.refFor('counter', 'a');
    expect(await a.ask('Add', { n: 1 })).toEqual({ value: 1 });
    await expect(a.ask('Add', { n: 2 })).rejects.toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining('snapshot reply to request 2') });
    expect(fake.streams[0]?.filter((m) => m.command !== undefined)).toHaveLength(1);
    expect(await types(store, 'a')).toEqual(['KalixEvent']);
    fake.script = counterScript;
    expect(await a.ask('Add', { n: 2 })).toEqual({ value: 3 });
    expect(proxy.streamsOpened).toBe(2);
    expect(await types(store, 'a')).toEqual(['KalixEvent', 'KalixSnapshot', 'KalixEvent']);
  });

  it('a snapshot request that is never answered: USER_FUNCTION_TIMEOUT on the system clock, the command is not sent, nothing persisted', async () => {
    const silent: Script = (msg, write, s) => {
      if (!msg.snapshotRequest) counterScript(msg, write, s);
    };
    const fake = await startFake({ script: silent });
    const clock = new ManualClock();
    const store = await memoryStore();
    const system = createActorSystem({ logger: silentLogger, clock });
    const runtime = new EntityRuntime(system, { store });
    const proxy = await startProxy({ userFunction: fake.address, runtime, snapshotRequestEvery: 1, commandTimeoutMs: 500 });
    onCleanup(async () => {
      await runtime.stop();
      await proxy.close();
      await system.stop();
    });
    const a = runtime.refFor('counter', 'a');
    expect(await a.ask('Add', { n: 1 }, { timeout: Infinity })).toEqual({ value: 1 });
    const asked = a.ask('Add', { n: 2 }, { timeout: Infinity }).catch((e: unknown) => e);
    await until(() => fake.streams[0]?.some((m) => m.snapshotRequest !== undefined) === true, 'the snapshot request');
    clock.advance(500);
    expect(await asked).toMatchObject({ code: 'USER_FUNCTION_TIMEOUT', message: expect.stringContaining('did not answer a snapshot') });
    expect(fake.streams[0]?.filter((m) => m.command !== undefined)).toHaveLength(1);
    expect(await types(store, 'a')).toEqual(['KalixEvent']);
    expect(proxy.openStreams).toBe(0);
  });

  it("the user function's own snapshot comes after the reply's events (at their last sequence number)", async () => {
    const withSnapshot: Script = (msg, write, s) =>
      counterScript(msg, (out) => {
        const reply = (out as { reply?: { events?: unknown[] } }).reply;
        if (reply?.events?.length) Object.assign(reply, { snapshot: { typeUrl: 'type.googleapis.com/test.counter.Value', value: counterRoot.lookupType('test.counter.Value').encode({ value: s.state }).finish() } });
        write(out);
      }, s);
    const fake = await startFake({ script: withSnapshot });
    const store = await memoryStore();
    const first = await proxied(fake.address, store);
    await first.runtime.refFor('counter', 'a').ask('Add', { n: 5 });
    await first.runtime.refFor('counter', 'a').ask('Add', { n: 6 });
    expect(await types(store, 'a')).toEqual(['KalixEvent', 'KalixSnapshot', 'KalixEvent', 'KalixSnapshot']);
    await first.stop();
    const second = await proxied(fake.address, store);
    expect(await second.runtime.refFor('counter', 'a').ask('Get', {})).toEqual({ value: 11 });
    expect(inits(fake.streams, 'a').at(-1)).toEqual({ snapshotSequence: 2, events: [] });
  });
});

describe('delete', () => {
  it("a reply's delete writes a KalixDeleted marker after its events; the entity starts again empty, its sequence numbers going on; the journal keeps the history", async () => {
    const fake = await startFake();
    const store = await memoryStore();
    const first = await proxied(fake.address, store);
    const a = first.runtime.refFor('counter', 'a');
    await a.ask('Add', { n: 2 });
    await a.ask('Add', { n: 3 });
    expect(await a.ask('Delete', {})).toEqual({});
    const journal = await store.journal.read('counter|a');
    expect(journal.map((e) => e.type)).toEqual(['KalixEvent', 'KalixEvent', 'KalixDeleted']);
    expect(journal[2]?.payload).toMatchObject({ seq: 2, retainMs: 60_000 });
    await until(() => first.proxy.openStreams === 0, 'the deleted entity to drop its stream');
    expect(await a.ask('Get', {})).toEqual({}); // a new stream, inited empty
    expect(inits(fake.streams, 'a').at(-1)).toEqual({ snapshotSequence: undefined, events: [] });
    expect(await a.ask('Add', { n: 4 })).toEqual({ value: 4 });
    await first.stop();

    const second = await proxied(fake.address, store);
    expect(await second.runtime.refFor('counter', 'a').ask('Get', {})).toEqual({ value: 4 });
    expect(inits(fake.streams, 'a').at(-1)).toEqual({ snapshotSequence: undefined, events: [3] });
    expect(await types(store, 'a')).toEqual(['KalixEvent', 'KalixEvent', 'KalixDeleted', 'KalixEvent']);
  });
});

describe('forwards and side effects', () => {
  const keyed = () => withEntityKey(withEntityKey(withEntityKey(fileDescriptorSet(counterRoot), 'Add', 'id'), 'Get', 'id'), 'Forward', 'id');

  it('a forward to an entity the proxy hosts: its reply is the reply; the forwarding entity persists nothing', async () => {
    const fake = await startFake({ descriptorSet: keyed() });
    const store = await memoryStore();
    const { runtime } = await proxied(fake.address, store);
    expect(await runtime.refFor('counter', 'a').ask('AddTo', { to: 'b', n: 5 })).toEqual({ value: 5 });
    expect(await runtime.refFor('counter', 'b').ask('Get', {})).toEqual({ value: 5 });
    expect(await types(store, 'a')).toEqual([]);
    expect(await types(store, 'b')).toEqual(['KalixEvent']);
  });

  it('a side effect to an entity the proxy hosts is told after the write commits; the reply does not wait for it', async () => {
    const fake = await startFake({ descriptorSet: keyed() });
    const store = await memoryStore();
    const { runtime } = await proxied(fake.address, store);
    expect(await runtime.refFor('counter', 'a').ask('AddAndTell', { to: 'b', n: 3 })).toEqual({ value: 3 });
    await until(() => fake.streams.some((s) => s[0]?.init?.entityId === 'b' && s.some((m) => m.command !== undefined)), 'the side effect to reach b');
    // Told, not asked: b's Add may still be on its way when a's reply arrives. Bounded, no sleeping.
    let b: unknown;
    for (let i = 0; i < 100 && JSON.stringify(b) !== '{"value":3}'; i++) b = await runtime.refFor('counter', 'b').ask('Get', {});
    expect(b).toEqual({ value: 3 });
    expect(await types(store, 'b')).toEqual(['KalixEvent']);
    expect(await types(store, 'a')).toEqual(['KalixEvent']);
  });

  it('a forward or side effect the proxy cannot make (no entity key, another service): UNSUPPORTED_EFFECT, nothing persisted, the stream renewed', async () => {
    const fake = await startFake(); // no (kalix.field).entity_key anywhere: no entity can be named
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store);
    const a = runtime.refFor('counter', 'a');
    await expect(a.ask('AddAndTell', { to: 'b', n: 3 })).rejects.toMatchObject({ code: 'COMMAND_FAILED', details: { code: 'UNSUPPORTED_EFFECT' }, message: expect.stringContaining('has no (kalix.field).entity_key field') });
    await expect(a.ask('AddTo', { to: 'b', n: 3 })).rejects.toMatchObject({ code: 'COMMAND_FAILED', details: { code: 'UNSUPPORTED_EFFECT' } });
    expect(await types(store, 'a')).toEqual([]);
    expect(await a.ask('Get', {})).toEqual({}); // the user function had added 3; a fresh stream from the journal says 0
    expect(proxy.streamsOpened).toBe(3);
  });
});

describe.skipIf(sdkUnavailable !== null)('snapshot_request with the unmodified Kalix SDK', () => {
  it("the SDK's snapshot reply is written with the next command; after proxy and user function restart, the cart comes back from it and the tail", async () => {
    const store = await testStore();
    const id = uniqueId('cart');
    let uf = await startUserFunction('shopping-cart', undefined, { SNAPSHOT_EVERY: '100' }); // its own snapshots out of the way
    let h = await startHarness(uf.address, store, { snapshotRequestEvery: 3 });
    const cart = h.runtime.refFor('shopping-cart', id);
    for (let i = 0; i < 5; i++) await cart.ask('AddItem', { productId: `p${i % 2}`, name: `P${i % 2}`, quantity: i + 1 });
    const before = await cart.ask('GetCart', {});
    const journal = await store.journal.read(`shopping-cart|${id}`);
    expect(journal.map((e) => e.type)).toEqual(['KalixEvent', 'KalixEvent', 'KalixEvent', 'KalixSnapshot', 'KalixEvent', 'KalixEvent']);
    expect(journal[3]?.payload).toMatchObject({ seq: 3, typeUrl: expect.stringContaining('Cart') });
    await h.stop();
    await uf.kill();

    uf = await startUserFunction('shopping-cart', undefined, { SNAPSHOT_EVERY: '100' });
    h = await startHarness(uf.address, store, { snapshotRequestEvery: 3 });
    expect(await h.runtime.refFor('shopping-cart', id).ask('GetCart', {})).toEqual(before);
    expect(before).toEqual({
      items: [
        { productId: 'p0', name: 'P0', quantity: 1 + 3 + 5 },
        { productId: 'p1', name: 'P1', quantity: 2 + 4 },
      ],
    });
  });
});
