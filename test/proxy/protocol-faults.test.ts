// The proxy against a user function that breaks the protocol (a scripted fake): each fault is a
// clear error, nothing is half-persisted, and the other entities and the proxy keep serving.
import { describe, expect, it } from 'vitest';
import { connect, createActorSystem, createGateway, EntityRuntime, ManualClock, silentLogger } from '../../src/index.js';
import { createStore, type Store } from '../../src/persistence/index.js';
import { type KalixProxy, startProxy } from '../../src/proxy/index.js';
import { failingAppends, heldAppends, until } from '../entities/support.js';
import { counterScript, type Fake, startFake, type Script } from './fake-user-function.js';
import { onCleanup } from './support.js';

async function memoryStore(): Promise<Store> {
  const store = await createStore({ kind: 'memory', logger: silentLogger });
  onCleanup(() => store.close());
  return store;
}

async function proxied(address: string, store: Store, clock?: ManualClock, extra: { maxCommandAttempts?: number; commandTimeoutMs?: number; maxMessageBytes?: number } = {}) {
  const system = createActorSystem({ logger: silentLogger, ...(clock ? { clock } : {}) });
  onCleanup(() => system.stop());
  const runtime = new EntityRuntime(system, { store });
  const proxy = await startProxy({
    userFunction: address,
    runtime,
    ...(extra.commandTimeoutMs !== undefined ? { commandTimeoutMs: extra.commandTimeoutMs } : {}),
    ...(extra.maxMessageBytes !== undefined ? { maxMessageBytes: extra.maxMessageBytes } : {}),
    settings: { backoff: { minMs: 0, maxMs: 0, randomFactor: 0 }, ...(extra.maxCommandAttempts !== undefined ? { maxCommandAttempts: extra.maxCommandAttempts } : {}) },
  });
  onCleanup(async () => {
    await runtime.stop();
    await proxy.close();
  });
  return { system, runtime, proxy };
}

/** Misbehaves for entity "bad" only; the others get the well-behaved counter. */
const onlyFor =
  (bad: Script): Script =>
  (msg, write, s) => {
    if (msg.init) s.entityId = msg.init.entityId;
    (s.entityId === 'bad' ? bad : counterScript)(msg, write, s);
  };

describe('discovery', () => {
  it('serves the counter: Discover with ProxyInfo, HealthCheck, ProxyTerminated on close', async () => {
    const fake = await startFake();
    const { runtime, proxy } = await proxied(fake.address, await memoryStore());
    expect(proxy.discovered.components.map((c) => [c.componentType, c.serviceName, c.entityType])).toEqual([
      ['kalix.component.eventsourcedentity.EventSourcedEntities', 'test.counter.CounterService', 'counter'],
    ]);
    await proxy.healthCheck();
    expect(await runtime.refFor('counter', 'a').ask('Add', { n: 2 })).toEqual({ value: 2 });
    expect(await runtime.refFor('counter', 'a').ask('Get', {})).toEqual({ value: 2 });
    await runtime.stop();
    await proxy.close();
    expect(fake.terminated).toBe(1);
  });

  it('another major protocol version is a startup error (PROTOCOL_VERSION_MISMATCH)', async () => {
    const fake = await startFake({ protocolMajorVersion: 2 });
    const runtime = new EntityRuntime(createActorSystem({ logger: silentLogger }), { store: await memoryStore() });
    onCleanup(() => runtime.system.stop());
    await expect(startProxy({ userFunction: fake.address, runtime })).rejects.toMatchObject({ code: 'PROTOCOL_VERSION_MISMATCH', message: expect.stringContaining('protocol 2.1') });
    expect(runtime.types.size).toBe(0);
  });

  it('an unsupported component is reported through ReportError and fails the start, unless allowUnsupported', async () => {
    const components = [
      { componentType: 'kalix.component.eventsourcedentity.EventSourcedEntities', serviceName: 'test.counter.CounterService', entity: { entityType: 'counter' } },
      { componentType: 'kalix.component.view.Views', serviceName: 'test.counter.CounterService' },
    ];
    const fake = await startFake({ components });
    const system = createActorSystem({ logger: silentLogger });
    onCleanup(() => system.stop());
    const store = await memoryStore();
    await expect(startProxy({ userFunction: fake.address, runtime: new EntityRuntime(system, { store }) })).rejects.toMatchObject({ code: 'UNSUPPORTED_COMPONENT', componentType: 'kalix.component.view.Views' });
    expect(fake.reportedErrors).toEqual([{ code: 'UNSUPPORTED_COMPONENT', message: expect.stringContaining('kalix.component.view.Views is not supported') }]);
    const runtime = new EntityRuntime(system, { store });
    const proxy = await startProxy({ userFunction: fake.address, runtime, allowUnsupported: true });
    onCleanup(() => proxy.close());
    expect(proxy.unsupported.map((e) => e.code)).toEqual(['UNSUPPORTED_COMPONENT']);
    expect(await runtime.refFor('counter', 'a').ask('Add', { n: 1 })).toEqual({ value: 1 });
  });

  it('an unreachable user function is USER_FUNCTION_UNAVAILABLE at startup', async () => {
    const system = createActorSystem({ logger: silentLogger });
    onCleanup(() => system.stop());
    const runtime = new EntityRuntime(system, { store: await memoryStore() });
    // Port 1 on loopback: nothing listens there; refused at once.
    await expect(startProxy({ userFunction: '127.0.0.1:1', runtime, connectTimeoutMs: 300 })).rejects.toMatchObject({ code: 'USER_FUNCTION_UNAVAILABLE' });
  });
});

type Failed = { code: string; message: string; cause?: { code: string; message: string } };
const failure = (p: Promise<unknown>): Promise<Failed> =>
  p.then(
    (v) => {
      throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e as Failed,
  );
const commandsSent = (fake: Fake, entityId: string): number =>
  fake.streams.filter((s) => s[0]?.init?.entityId === entityId).reduce((n, s) => n + s.filter((m) => m.command !== undefined).length, 0);

/** Misbehaves on the first command of entity "bad" only (whatever stream it comes on); the rest is the well-behaved counter. */
function firstCommandOfBad(bad: Script): Script {
  let faulted = false;
  return onlyFor((msg, write, s) => {
    if (msg.command !== undefined && !faulted) {
      faulted = true;
      bad(msg, write, s);
      return;
    }
    counterScript(msg, write, s);
  });
}

/**
 * After a fault on "bad": nothing of it was persisted, "bad" itself serves its next command on a
 * fresh stream inited from the journal, and "good" is served throughout.
 */
async function servesOnAfterFault(runtime: EntityRuntime, proxy: KalixProxy, store: Store, journalBefore: number): Promise<void> {
  expect(await store.journal.read('counter|bad')).toHaveLength(journalBefore);
  const opened = proxy.streamsOpened;
  expect(await runtime.refFor('counter', 'bad').ask('Add', { n: 7 })).toEqual({ value: 7 + journalBefore });
  expect(proxy.streamsOpened).toBe(opened + 1);
  expect(await runtime.refFor('counter', 'good').ask('Add', { n: 2 })).toEqual({ value: 2 });
}

const ADDED_5 = { typeUrl: 'type.googleapis.com/test.counter.Added', value: new Uint8Array([8, 5]) };

describe('a user function that breaks the protocol: a clear code at once, nothing persisted, the entity and the others serve on', () => {
  it('a reply for the wrong command id: PROXY_PROTOCOL_ERROR', async () => {
    const fake = await startFake({
      script: firstCommandOfBad((msg, write) => {
        if (msg.command) write({ reply: { commandId: msg.command.id + 100, clientAction: { reply: {} }, events: [ADDED_5] } });
      }),
    });
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store);
    const err = await failure(runtime.refFor('counter', 'bad').ask('Add', { n: 5 }));
    expect(err).toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringMatching(/replied to command id 101 on test.counter.CounterService\/"bad", but command id 1 was waiting/) });
    expect(commandsSent(fake, 'bad')).toBe(1); // not retried: the same user function would break the same way
    await servesOnAfterFault(runtime, proxy, store, 0);
  });

  it('replies out of order (an earlier command id while a later one waits): PROXY_PROTOCOL_ERROR; the first reply stands', async () => {
    let previous: number | undefined;
    const fake = await startFake({
      script: onlyFor((msg, write, s) => {
        if (msg.command !== undefined && previous !== undefined && msg.command.id === previous + 1 && s.entityId === 'bad' && previous === 1) {
          // Command 2 answered as if it were command 1 again (a user function answering out of order).
          write({ reply: { commandId: previous, clientAction: { reply: {} }, events: [ADDED_5] } });
          previous = undefined;
          return;
        }
        if (msg.command !== undefined && previous === undefined && fake.streams.length === 1) previous = msg.command.id;
        counterScript(msg, write, s);
      }),
    });
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store);
    expect(await runtime.refFor('counter', 'bad').ask('Add', { n: 1 })).toEqual({ value: 1 });
    const err = await failure(runtime.refFor('counter', 'bad').ask('Add', { n: 5 }));
    expect(err).toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining('replied to command id 1 on test.counter.CounterService/"bad", but command id 2 was waiting') });
    await servesOnAfterFault(runtime, proxy, store, 1);
  });

  it('a second reply when no command waits ends the stream; the next command starts a new one from the journal', async () => {
    const fake = await startFake({
      script: firstCommandOfBad((msg, write, s) => {
        if (msg.command === undefined) return;
        counterScript(msg, write, s);
        write({ reply: { commandId: msg.command.id, clientAction: { reply: {} }, events: [ADDED_5] } }); // a duplicate, with an event
      }),
    });
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store);
    expect(await runtime.refFor('counter', 'bad').ask('Add', { n: 1 })).toEqual({ value: 1 });
    await until(() => proxy.openStreams === 0, 'the duplicate reply to end the stream');
    // The duplicate's event was never persisted: the journal has the first reply's event alone.
    await servesOnAfterFault(runtime, proxy, store, 1);
  });

  it('an Any with an unknown type URL: PROXY_PROTOCOL_ERROR', async () => {
    const fake = await startFake({
      script: firstCommandOfBad((msg, write) => {
        if (msg.command) write({ reply: { commandId: msg.command.id, clientAction: { reply: { payload: { typeUrl: 'type.googleapis.com/no.such.Type', value: new Uint8Array() } } }, events: [ADDED_5] } });
      }),
    });
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store);
    const err = await failure(runtime.refFor('counter', 'bad').ask('Add', { n: 5 }));
    expect(err).toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining('unknown type URL "type.googleapis.com/no.such.Type"') });
    await servesOnAfterFault(runtime, proxy, store, 0);
  });

  it('a reply payload of another message type than the method returns: PROXY_PROTOCOL_ERROR', async () => {
    const fake = await startFake({
      script: firstCommandOfBad((msg, write) => {
        if (msg.command) write({ reply: { commandId: msg.command.id, clientAction: { reply: { payload: ADDED_5 } }, events: [ADDED_5] } });
      }),
    });
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store);
    const err = await failure(runtime.refFor('counter', 'bad').ask('Add', { n: 5 }));
    expect(err).toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining('replied with a test.counter.Added where a test.counter.Value is expected') });
    await servesOnAfterFault(runtime, proxy, store, 0);
  });

  it('reply bytes that are not the message they claim to be: PROXY_PROTOCOL_ERROR', async () => {
    const fake = await startFake({
      script: firstCommandOfBad((msg, write) => {
        // Field 1 as a length-delimited value running past the end.
        if (msg.command) write({ reply: { commandId: msg.command.id, clientAction: { reply: { payload: { typeUrl: 'type.googleapis.com/test.counter.Value', value: new Uint8Array([10, 50, 1]) } } }, events: [ADDED_5] } });
      }),
    });
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store);
    const err = await failure(runtime.refFor('counter', 'bad').ask('Add', { n: 5 }));
    expect(err).toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining("test.counter.Value reply cannot be decoded") });
    await servesOnAfterFault(runtime, proxy, store, 0);
  });

  it('an event or snapshot without a type URL: PROXY_PROTOCOL_ERROR, nothing written (no user function could read it back)', async () => {
    let n = 0;
    const fake = await startFake({
      script: onlyFor((msg, write, s) => {
        if (msg.command === undefined || n >= 2) return counterScript(msg, write, s);
        const untyped = { typeUrl: '', value: new Uint8Array([8, 5]) };
        write({ reply: { commandId: msg.command.id, clientAction: { reply: {} }, ...(n++ === 0 ? { events: [ADDED_5, untyped] } : { events: [ADDED_5], snapshot: untyped }) } });
      }),
    });
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store);
    expect(await failure(runtime.refFor('counter', 'bad').ask('Add', { n: 5 }))).toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining('an event without a type URL') });
    expect(await failure(runtime.refFor('counter', 'bad').ask('Add', { n: 5 }))).toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining('a snapshot without a type URL') });
    await servesOnAfterFault(runtime, proxy, store, 0);
  });

  it('an empty EventSourcedStreamOut: PROXY_PROTOCOL_ERROR', async () => {
    const fake = await startFake({ script: firstCommandOfBad((msg, write) => msg.command && write({})) });
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store);
    expect(await failure(runtime.refFor('counter', 'bad').ask('Add', { n: 5 }))).toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining('empty EventSourcedStreamOut') });
    await servesOnAfterFault(runtime, proxy, store, 0);
  });

  it('a stream that never answers: USER_FUNCTION_TIMEOUT after commandTimeoutMs on the system clock, the stream is ended, a late answer is ignored', async () => {
    let late: (() => void) | undefined;
    const fake = await startFake({
      script: firstCommandOfBad((msg, write) => {
        const c = msg.command;
        if (c) late = () => write({ reply: { commandId: c.id, clientAction: { reply: {} }, events: [ADDED_5] } });
      }),
    });
    const clock = new ManualClock();
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store, clock, { commandTimeoutMs: 1000 });
    let settled = false;
    const asked = failure(runtime.refFor('counter', 'bad').ask('Add', { n: 1 }, { timeout: Infinity })).finally(() => (settled = true));
    await until(() => late !== undefined, 'the command to reach the user function');
    expect(proxy.openStreams).toBe(1);
    clock.advance(999);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    clock.advance(1);
    expect(await asked).toMatchObject({ code: 'USER_FUNCTION_TIMEOUT', message: expect.stringContaining('did not answer Add for test.counter.CounterService/"bad" within 1000 ms') });
    expect(proxy.openStreams).toBe(0);
    late?.(); // on a stream the proxy has ended: nothing reads it
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    await servesOnAfterFault(runtime, proxy, store, 0);
  });

  it('a command over maxMessageBytes: MESSAGE_TOO_LARGE before it is sent, the stream untouched', async () => {
    const fake = await startFake();
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store, undefined, { maxMessageBytes: 64 * 1024 });
    const bad = runtime.refFor('counter', 'bad');
    expect(await bad.ask('Add', { n: 1 })).toEqual({ value: 1 });
    const err = await failure(bad.ask('Add', { id: 'x'.repeat(100_000), n: 5 }));
    expect(err).toMatchObject({ code: 'MESSAGE_TOO_LARGE', limit: 64 * 1024, message: expect.stringContaining('over the 65536-byte message limit; it was not sent') });
    expect(commandsSent(fake, 'bad')).toBe(1);
    expect(await bad.ask('Add', { n: 2 })).toEqual({ value: 3 });
    expect(proxy.streamsOpened).toBe(1);
  });

  it('an answer over maxMessageBytes: MESSAGE_TOO_LARGE, its events not persisted', async () => {
    const fake = await startFake({
      script: firstCommandOfBad((msg, write) => {
        if (msg.command) write({ reply: { commandId: msg.command.id, clientAction: { reply: {} }, events: [{ typeUrl: ADDED_5.typeUrl, value: new Uint8Array(100_000) }] } });
      }),
    });
    const store = await memoryStore();
    const { runtime, proxy } = await proxied(fake.address, store, undefined, { maxMessageBytes: 64 * 1024 });
    expect(await failure(runtime.refFor('counter', 'bad').ask('Add', { n: 5 }))).toMatchObject({ code: 'MESSAGE_TOO_LARGE', message: expect.stringContaining('65536-byte message limit') });
    await servesOnAfterFault(runtime, proxy, store, 0);
  });

  it('a payload that does not match the message type: INVALID_COMMAND, never sent to the user function', async () => {
    const fake = await startFake();
    const store = await memoryStore();
    const { runtime } = await proxied(fake.address, store);
    const bad = runtime.refFor('counter', 'bad');
    for (const input of [{ n: 'lots' }, { n: 1, colour: 'red' }, [1, 2], 'Add', { n: 1.5 }]) {
      expect(await failure(bad.ask('Add', input))).toMatchObject({ code: 'INVALID_COMMAND', message: expect.stringContaining('test.counter.Add') });
    }
    expect(commandsSent(fake, 'bad')).toBe(0);
    expect(await bad.ask('Add', { n: 4 })).toEqual({ value: 4 });
  });

  it('an unknown method: UNKNOWN_COMMAND from the proxy; a method the user function does not know: its failure crashes the entity (USER_FUNCTION_FAILED), which recovers', async () => {
    const fake = await startFake({
      script: onlyFor((msg, write, s) => {
        if (msg.command?.name === 'Get' && s.entityId === 'bad') write({ failure: { commandId: msg.command.id, description: 'Unknown command named Get' } });
        else counterScript(msg, write, s);
      }),
    });
    const store = await memoryStore();
    const { runtime } = await proxied(fake.address, store, undefined, { maxCommandAttempts: 2 });
    const bad = runtime.refFor('counter', 'bad');
    expect(await bad.ask('Add', { n: 3 })).toEqual({ value: 3 });
    expect(await failure(bad.ask('Checkout', {}))).toMatchObject({ code: 'UNKNOWN_COMMAND' });
    const err = await failure(bad.ask('Get', {}));
    expect(err).toMatchObject({
      code: 'POISON_COMMAND',
      message: expect.stringContaining('2 times and was dropped (last crash: USER_FUNCTION_FAILED)'),
      cause: { code: 'USER_FUNCTION_FAILED', message: expect.stringContaining('Get failed in the user function: Unknown command named Get') },
    });
    expect(await bad.ask('Add', { n: 1 })).toEqual({ value: 4 });
    expect((await store.journal.read('counter|bad')).map((e) => e.type)).toEqual(['KalixEvent', 'KalixEvent']);
    expect(await runtime.refFor('counter', 'good').ask('Get', {})).toEqual({});
  });
});

describe('through the gateway client', () => {
  it('a client gets the fault codes themselves (PROXY_PROTOCOL_ERROR, MESSAGE_TOO_LARGE, INVALID_COMMAND) and its connection serves on', async () => {
    const fake = await startFake({
      script: onlyFor((msg, write) => {
        if (msg.command) write({ reply: { commandId: msg.command.id + 1, clientAction: { reply: {} } } });
      }),
    });
    const store = await memoryStore();
    const { runtime } = await proxied(fake.address, store, undefined, { maxMessageBytes: 64 * 1024 });
    const gateway = await createGateway({ runtime, port: 0, host: '127.0.0.1' });
    onCleanup(() => gateway.close());
    const client = await connect(gateway.url as string);
    onCleanup(() => client.close());
    await expect(client.ref('counter', 'bad').ask('Add', { n: 1 })).rejects.toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining('replied to command id 2') });
    // Under the gateway's 1 MiB payload limit, over the proxy's 64 KiB message limit.
    await expect(client.ref('counter', 'good').ask('Add', { id: 'x'.repeat(100_000), n: 1 })).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    await expect(client.ref('counter', 'good').ask('Add', { n: 'lots' })).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
    expect(await client.ref('counter', 'good').ask('Add', { n: 2 })).toEqual({ value: 2 });
    expect(await store.journal.read('counter|bad')).toEqual([]);
  });
});

describe('the stream stays in step with the journal', () => {
  it("a reply's events are persisted before the reply is delivered", async () => {
    const fake = await startFake();
    const { store, held } = heldAppends(await memoryStore());
    const { runtime } = await proxied(fake.address, store);
    let replied = false;
    const asked = runtime.refFor('counter', 'a').ask('Add', { n: 3 }).then((v) => ((replied = true), v));
    await until(() => held.length === 1, 'the append');
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(replied).toBe(false);
    held[0]?.go();
    expect(await asked).toEqual({ value: 3 });
    expect((await store.journal.read('counter|a')).map((e) => e.type)).toEqual(['KalixEvent']);
  });

  it('after a failed write the next command opens a new stream from the journal (the old one had applied the unpersisted event)', async () => {
    const fake = await startFake();
    const { store, failNext } = failingAppends(await memoryStore());
    const { runtime, proxy } = await proxied(fake.address, store);
    const a = runtime.refFor('counter', 'a');
    expect(await a.ask('Add', { n: 1 })).toEqual({ value: 1 });
    failNext(1);
    await expect(a.ask('Add', { n: 10 })).rejects.toMatchObject({ code: 'PERSIST_FAILED' });
    // The user function's memory says 11; the journal says 1: a fresh stream is inited with event 1 only.
    expect(await a.ask('Get', {})).toEqual({ value: 1 });
    expect(proxy.streamsOpened).toBe(2);
    const second = fake.streams[1] ?? [];
    expect(second.filter((m) => m.event !== undefined).map((m) => m.event?.sequence)).toEqual([1]);
  });

  it('passivation closes the stream; the next command re-inits from the journal', async () => {
    const fake = await startFake();
    const clock = new ManualClock();
    const system = createActorSystem({ logger: silentLogger, clock });
    onCleanup(() => system.stop());
    const runtime = new EntityRuntime(system, { store: await memoryStore() });
    const proxy = await startProxy({ userFunction: fake.address, runtime, settings: { idleTimeoutMs: 1000 } });
    onCleanup(() => proxy.close());
    const a = runtime.refFor('counter', 'a');
    await a.ask('Add', { n: 4 });
    expect(proxy.openStreams).toBe(1);
    clock.advance(1001);
    await until(() => proxy.openStreams === 0, 'passivation to close the stream');
    expect(await a.ask('Get', {})).toEqual({ value: 4 });
    expect(proxy.streamsOpened).toBe(2);
  });
});
