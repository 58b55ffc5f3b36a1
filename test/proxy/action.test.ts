// The unmodified Kalix JavaScript SDK as the user function: a stateless action beside a value
// entity (test/proxy/fixtures/counter), written to its documented API and reached through the
// beamstate gateway's client as entity type = the action's service name (any id).
import { describe, expect, it } from 'vitest';
import { connect, createActorSystem, EntityRuntime, ManualClock, silentLogger } from '../../src/index.js';
import { startGrpcFront, startProxy } from '../../src/proxy/index.js';
import { fixtureRoot, serviceClient } from './grpc-client.js';
import { onCleanup, sdkUnavailable, startHarness, startUserFunction, testStore, uniqueId, type UserFunction } from './support.js';

if (sdkUnavailable !== null) console.warn(`skipping the Kalix SDK action tests: ${sdkUnavailable}`);

const ACTIONS = 'com.example.counter.CounterActions';
type Failed = Error & { code: string; details?: { code?: string; grpcStatusCode?: number } };

/** Resolves once the user function (another process) has printed `text`: woken by its output, never polled; fails if it exits first. */
async function printed(uf: UserFunction, text: string): Promise<void> {
  const streams = [uf.child.stdout, uf.child.stderr].filter((s) => s !== null);
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      for (const s of streams) s.off('data', check);
      uf.child.off('exit', exited);
      if (err) reject(err);
      else resolve();
    };
    // support.ts's own 'data' listener was added first, so output() already holds this chunk.
    const check = (): void => {
      if (uf.output().includes(text)) done();
    };
    const exited = (): void => done(new Error(`the user function exited without printing ${JSON.stringify(text)}: ${uf.output()}`));
    for (const s of streams) s.on('data', check);
    uf.child.once('exit', exited);
    check();
  });
  expect(uf.output()).toContain(text);
}

describe.skipIf(sdkUnavailable !== null)('a Kalix SDK action behind the proxy', () => {
  it("replies and fails with the user function's text through the gateway client, whatever the id", async () => {
    const uf = await startUserFunction('counter');
    const h = await startHarness(uf.address, await testStore());
    expect(h.proxy.entityTypeOf(ACTIONS)).toBe(ACTIONS);
    const client = await connect(h.url);
    onCleanup(() => client.close());
    expect(await client.ref(ACTIONS, 'any').ask('Greet', { name: 'Ada' })).toEqual({ message: 'Hello, Ada!' });
    expect(await client.ref(ACTIONS, 'other').ask('Greet', { name: 'Grace' })).toEqual({ message: 'Hello, Grace!' });
    await expect(client.ref(ACTIONS, 'x').ask('Greet', { name: '' })).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'a name is required' });
    // Concurrent calls go over the pool (poolSize workers, one call each at a time); none is lost.
    const names = Array.from({ length: 24 }, (_, i) => `n${i}`);
    expect(await Promise.all(names.map((n) => client.ref(ACTIONS, n).ask('Greet', { name: n })))).toEqual(names.map((n) => ({ message: `Hello, ${n}!` })));
    // Actions hold no streams.
    expect(h.proxy.openStreams).toBe(0);
  });

  it('forwards to the counter entity (routed by its entity_key) and makes side effects once the reply is decided', async () => {
    const uf = await startUserFunction('counter');
    const store = await testStore();
    const h = await startHarness(uf.address, store);
    const id = uniqueId('counter');
    const actions = h.runtime.refFor(ACTIONS, '0');
    // The forward's reply is the entity's: Increase answers Empty.
    expect(await actions.ask('IncreaseTwice', { counterId: id, value: 3 })).toEqual({});
    expect(await h.runtime.refFor('counter', id).ask('GetCurrentCounter', {})).toEqual({ value: 6 });
    // A failure of the forwarded command is the caller's failure.
    await expect(actions.ask('IncreaseTwice', { counterId: id, value: -1 })).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'Increase requires a positive value. It was [-2].' });
    // A side effect is told: the reply does not wait for it.
    expect(await actions.ask('IncreaseAndTell', { counterId: id, value: 4 })).toEqual({ message: `increasing ${id} by 4` });
    let value: unknown;
    for (let i = 0; i < 200 && JSON.stringify(value) !== JSON.stringify({ value: 10 }); i++) value = await h.runtime.refFor('counter', id).ask('GetCurrentCounter', {});
    expect(value).toEqual({ value: 10 });
    // A forward whose input names no entity is refused, never sent to a guessed one.
    await expect(actions.ask('IncreaseTwice', { value: 1 })).rejects.toMatchObject({ code: 'COMMAND_FAILED', details: { code: 'UNSUPPORTED_EFFECT' }, message: expect.stringContaining('empty entity key') });
  });

  it('after a proxy restart the same user function serves the action again, and its forwards reach the recovered entity', async () => {
    const uf = await startUserFunction('counter');
    const store = await testStore();
    const id = uniqueId('counter');
    let h = await startHarness(uf.address, store);
    expect(await h.runtime.refFor(ACTIONS, '0').ask('IncreaseTwice', { counterId: id, value: 5 })).toEqual({});
    await h.stop();
    h = await startHarness(uf.address, store);
    expect(await h.runtime.refFor(ACTIONS, '0').ask('Greet', { name: 'again' })).toEqual({ message: 'Hello, again!' });
    expect(await h.runtime.refFor(ACTIONS, '0').ask('IncreaseTwice', { counterId: id, value: 1 })).toEqual({});
    expect(await h.runtime.refFor('counter', id).ask('GetCurrentCounter', {})).toEqual({ value: 12 });
  });

  it('over gRPC too (the gRPC front): the value entity routed by counter_id, the action by its service, forwards and failures as statuses', async () => {
    const uf = await startUserFunction('counter');
    const store = await testStore();
    const h = await startHarness(uf.address, store);
    const front = await startGrpcFront({ proxy: h.proxy, runtime: h.runtime });
    onCleanup(() => front.close());
    const counter = serviceClient(fixtureRoot('counter'), 'com.example.counter.CounterService', front.address);
    const actions = serviceClient(fixtureRoot('counter'), ACTIONS, front.address);
    onCleanup(() => counter.close());
    onCleanup(() => actions.close());
    const id = uniqueId('grpc');
    expect(await counter.call('Increase', { counterId: id, value: 4 })).toEqual({});
    expect(await actions.call('IncreaseTwice', { counterId: id, value: 3 })).toEqual({});
    expect(await counter.call('GetCurrentCounter', { counterId: id })).toEqual({ value: 10 });
    // The same entity as the gateway's and the runtime's refs address by id.
    expect(await h.runtime.refFor('counter', id).ask('GetCurrentCounter', {})).toEqual({ value: 10 });
    expect(await actions.call('Greet', { name: 'Ada' })).toEqual({ message: 'Hello, Ada!' });
    await expect(actions.call('Greet', { name: '' })).rejects.toMatchObject({ details: 'a name is required', beamstateCode: 'COMMAND_FAILED' });
    await expect(counter.call('Increase', { counterId: id, value: -1 })).rejects.toMatchObject({ details: 'Increase requires a positive value. It was [-1].' });
  });

  it('a streamed method is a clear UNSUPPORTED_CALL; an unknown method and a bad payload are refused before the user function', async () => {
    const uf = await startUserFunction('counter');
    const h = await startHarness(uf.address, await testStore());
    const client = await connect(h.url);
    onCleanup(() => client.close());
    const actions = client.ref(ACTIONS, 'any');
    await expect(actions.ask('Countdown', { from: 3 })).rejects.toMatchObject({ code: 'COMMAND_FAILED', details: { code: 'UNSUPPORTED_CALL' }, message: expect.stringContaining('UNSUPPORTED_CALL') });
    await expect(actions.ask('Shout', {})).rejects.toMatchObject({ code: 'UNKNOWN_COMMAND' });
    await expect(actions.ask('Greet', { name: 42 })).rejects.toMatchObject({ code: 'INVALID_COMMAND', message: expect.stringContaining('com.example.counter.GreetRequest') });
    expect(await actions.ask('Greet', { name: 'Ada' })).toEqual({ message: 'Hello, Ada!' });
  });

  it('a user function that is down fails a call at once with USER_FUNCTION_UNAVAILABLE (not retried); calls succeed again once it is back', async () => {
    let uf = await startUserFunction('counter');
    const h = await startHarness(uf.address, await testStore());
    const actions = h.runtime.refFor(ACTIONS, '0');
    expect(await actions.ask('Greet', { name: 'Ada' })).toEqual({ message: 'Hello, Ada!' });
    await uf.kill();
    await expect(actions.ask('Greet', { name: 'Ada' })).rejects.toMatchObject({ code: 'USER_FUNCTION_UNAVAILABLE' });
    uf = await startUserFunction('counter', uf.port);
    let reply: unknown;
    // gRPC reconnects with a backoff of up to 1 s; a call before that fails fast, so wait between tries (bounded).
    for (let attempt = 0; attempt < 150 && reply === undefined; attempt++) {
      reply = await actions.ask('Greet', { name: 'Ada' }).catch(() => undefined);
      if (reply === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(reply).toEqual({ message: 'Hello, Ada!' });
  });

  // The SDK (1.1.0) never answers a unary call whose handler throws (checked with a bare gRPC
  // call: it waits out its deadline), so such a call ends as one that hangs.
  it('a call the user function never answers (a hanging or a throwing handler) times out on the system clock (USER_FUNCTION_TIMEOUT); other calls are served', async () => {
    const uf = await startUserFunction('counter');
    const clock = new ManualClock();
    const system = createActorSystem({ logger: silentLogger, clock });
    const runtime = new EntityRuntime(system, { store: await testStore() });
    const proxy = await startProxy({ userFunction: uf.address, runtime, commandTimeoutMs: 1000 });
    onCleanup(async () => {
      await runtime.stop();
      await proxy.close();
      await system.stop();
    });
    const asked = ['hang', 'crash'].map((name) => runtime.refFor(ACTIONS, '0').ask('Greet', { name }, { timeout: Infinity }).catch((e: unknown) => e));
    await printed(uf, 'hanging action');
    await printed(uf, 'Error: the action crashed on purpose');
    let settled = 0;
    for (const a of asked) void a.then(() => settled++);
    clock.advance(999);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(settled).toBe(0);
    clock.advance(1);
    for (const a of asked) expect(await a).toMatchObject({ code: 'USER_FUNCTION_TIMEOUT', message: expect.stringContaining(`did not answer ${ACTIONS}/Greet within 1000 ms`) });
    expect(await runtime.refFor(ACTIONS, '0').ask('Greet', { name: 'Ada' }, { timeout: Infinity })).toEqual({ message: 'Hello, Ada!' });
  });
});
