// The unmodified Kalix JavaScript SDK as the user function: a value entity counter written to its
// documented API (test/proxy/fixtures/counter), driven through the beamstate gateway's client and
// the runtime, its state in beamstate's durable-state store.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { connect, createActorSystem, EntityRuntime, ManualClock, silentLogger } from '../../src/index.js';
import { StoreUnavailableError } from '../../src/persistence/index.js';
import { startProxy } from '../../src/proxy/index.js';
import { delegate, storeWith } from '../entities/support.js';
import { onCleanup, sdkUnavailable, startHarness, startUserFunction, testStore, uniqueId, type UserFunction } from './support.js';

if (sdkUnavailable !== null) console.warn(`skipping the Kalix SDK value entity tests: ${sdkUnavailable}`);

type Failed = Error & { code: string; cause?: { code: string; message: string } };

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

describe.skipIf(sdkUnavailable !== null)('a Kalix SDK value entity behind the proxy', () => {
  it("increases, reads, fails with the user function's text and resets through the gateway client", async () => {
    const uf = await startUserFunction('counter');
    const store = await testStore();
    const h = await startHarness(uf.address, store);
    expect(h.proxy.entityTypeOf('com.example.counter.CounterService')).toBe('counter');
    const client = await connect(h.url);
    onCleanup(() => client.close());
    const id = uniqueId('counter');
    const counter = client.ref('counter', id);

    expect(await counter.ask('GetCurrentCounter', {})).toEqual({});
    expect(await counter.ask('Increase', { value: 5 })).toEqual({});
    expect(await counter.ask('Increase', { value: 3 })).toEqual({});
    expect(await counter.ask('GetCurrentCounter', {})).toEqual({ value: 8 });
    // One stream served every command so far: it stayed in step with the store.
    expect(h.proxy.streamsOpened).toBe(1);
    await expect(counter.ask('Increase', { value: -1 })).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'Increase requires a positive value. It was [-1].' });
    expect(await counter.ask('GetCurrentCounter', {})).toEqual({ value: 8 });
    // The store holds the user function's state as it sent it: one revision per update.
    const stored = await store.durableState.get(`counter|${id}`);
    expect(stored?.revision).toBe(2);
    expect((stored?.value as { value: { typeUrl: string } }).value.typeUrl).toBe('type.googleapis.com/com.example.counter.domain.CounterState');
    // A failure drops the stream (the SDK may keep an update the proxy did not persist): one more init.
    expect(h.proxy.streamsOpened).toBe(2);

    // Reset deletes the state: the store has none, and the user function starts from its initial state.
    expect(await counter.ask('Reset', {})).toEqual({});
    expect(await store.durableState.get(`counter|${id}`)).toBeUndefined();
    expect(await counter.ask('GetCurrentCounter', {})).toEqual({});
    expect(await counter.ask('Increase', { value: 2 })).toEqual({});
    expect(await counter.ask('GetCurrentCounter', {})).toEqual({ value: 2 });
  });

  it('a gateway subscription sees each stored state (undecoded) with its revision', async () => {
    const uf = await startUserFunction('counter');
    const h = await startHarness(uf.address, await testStore());
    const client = await connect(h.url);
    onCleanup(() => client.close());
    const id = uniqueId('watched');
    const seen: { version: number; state: unknown }[] = [];
    let sawThree!: () => void;
    const three = new Promise<void>((resolve) => (sawThree = resolve));
    await client.subscribe('counter', id, { state: true }, (u) => {
      if (u.kind === 'state') seen.push({ version: u.version, state: u.state });
      if (seen.length === 3) sawThree();
    });
    await client.ref('counter', id).ask('Increase', { value: 1 });
    await client.ref('counter', id).ask('Increase', { value: 2 });
    // Woken by the third update itself (the initial state and one per write); a missing one fails on the test's timeout.
    await three;
    expect(seen.map((u) => u.version)).toEqual([0, 1, 2]);
    expect(seen[0]?.state).toEqual({ value: null });
    const last = seen[2]?.state as { value: { typeUrl: string; value: unknown } };
    expect(last.value.typeUrl).toBe('type.googleapis.com/com.example.counter.domain.CounterState');
    // Over JSON the bytes come as Node's JSON form of a Buffer (msgpack carries them as binary).
    expect(last.value.value).toEqual({ type: 'Buffer', data: [8, 3] }); // CounterState { value: 3 }
  });

  it('a command that updates and then fails persists nothing, and the user function does not keep the update either', async () => {
    const uf = await startUserFunction('counter');
    const store = await testStore();
    const h = await startHarness(uf.address, store);
    const id = uniqueId('counter');
    const counter = h.runtime.refFor('counter', id);
    await counter.ask('Increase', { value: 3 });
    // The fixture's Decrease calls updateState(3 - 5) before it returns replies.failure(…).
    await expect(counter.ask('Decrease', { counterId: id, value: 5 })).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: `Decrease would make counter [${id}] negative.` });
    expect((await store.durableState.get(`counter|${id}`))?.revision).toBe(1);
    // Were the stream kept, the SDK's memory would say -2.
    expect(await counter.ask('GetCurrentCounter', {})).toEqual({ value: 3 });
    expect(await counter.ask('Decrease', { value: 1 })).toEqual({});
    expect(await counter.ask('GetCurrentCounter', {})).toEqual({ value: 2 });
  });

  it('recovers its state from the store when proxy and user function both restart (nothing kept in either memory)', async () => {
    const store = await testStore();
    const id = uniqueId('counter');
    let uf = await startUserFunction('counter');
    let h = await startHarness(uf.address, store);
    for (let i = 1; i <= 4; i++) await h.runtime.refFor('counter', id).ask('Increase', { value: i });
    await h.stop();
    await uf.kill();

    uf = await startUserFunction('counter');
    h = await startHarness(uf.address, store);
    expect(await h.runtime.refFor('counter', id).ask('GetCurrentCounter', {})).toEqual({ value: 10 });
    await h.runtime.refFor('counter', id).ask('Increase', { value: 1 });
    expect((await store.durableState.get(`counter|${id}`))?.revision).toBe(5);
  });

  it('a write that fails releases no reply and leaves the stream untrusted: the next command re-inits from the store', async () => {
    const uf = await startUserFunction('counter');
    const base = await testStore();
    let failures = 0;
    const upsert: typeof base.durableState.upsert = (...args) => (failures-- > 0 ? Promise.reject(new StoreUnavailableError('connection terminated')) : base.durableState.upsert(...args));
    const store = storeWith(base, { durableState: delegate(base.durableState, { upsert }) });
    const h = await startHarness(uf.address, store, { settings: { maxCommandAttempts: 1 } });
    const id = uniqueId('counter');
    const counter = h.runtime.refFor('counter', id);
    await counter.ask('Increase', { value: 4 });
    failures = 1;
    const err = (await counter.ask('Increase', { value: 10 }).catch((e: unknown) => e)) as Failed;
    expect(err).toMatchObject({ code: 'PERSIST_FAILED', cause: { code: 'STORE_UNAVAILABLE' } });
    expect((await store.durableState.get(`counter|${id}`))?.revision).toBe(1);
    // The user function applied +10 in its memory; the proxy does not trust that stream any more.
    expect(await counter.ask('GetCurrentCounter', {})).toEqual({ value: 4 });
  });

  it("a user function handler that throws crashes the entity (retried, then POISON_COMMAND); nothing is persisted and the entity goes on", async () => {
    const uf = await startUserFunction('counter');
    const store = await testStore();
    const h = await startHarness(uf.address, store, { settings: { backoff: { minMs: 1, maxMs: 5 } } });
    const id = uniqueId('counter');
    const counter = h.runtime.refFor('counter', id);
    await counter.ask('Increase', { value: 1 });
    const err = (await counter.ask('Increase', { value: 13 }).catch((e: unknown) => e)) as Failed;
    expect(err.code).toBe('POISON_COMMAND');
    expect(err.cause).toMatchObject({ code: 'USER_FUNCTION_FAILED', message: expect.stringContaining("Increase failed in the user function: Error handling command 'Increase': Error: the handler crashed on purpose") });
    expect(await counter.ask('GetCurrentCounter', {})).toEqual({ value: 1 });
    expect((await store.durableState.get(`counter|${id}`))?.revision).toBe(1);
  });

  it('kill -9 of the user function: the command in flight fails with a clear code, nothing is lost, and the entity recovers when it returns', async () => {
    const store = await testStore();
    let uf = await startUserFunction('counter');
    const h = await startHarness(uf.address, store, { settings: { backoff: { minMs: 1, maxMs: 20 } } });
    const ids = [uniqueId('killed'), uniqueId('killed'), uniqueId('killed')];
    for (const id of ids) await h.runtime.refFor('counter', id).ask('Increase', { value: 2 });
    // One command hangs in the user function when it is killed.
    const inFlight = h.runtime.refFor('counter', ids[0] as string).ask('Increase', { counterId: ids[0], value: 99 }).catch((e: unknown) => e);
    await printed(uf, `hanging ${ids[0]}`);
    await uf.kill();
    const err = (await inFlight) as Failed;
    expect(err.code).toBe('POISON_COMMAND');
    expect(err.cause?.code).toBe('USER_FUNCTION_UNAVAILABLE');
    const down = (await h.runtime.refFor('counter', ids[1] as string).ask('Increase', { value: 1 }).catch((e: unknown) => e)) as Failed;
    expect(down.cause?.code).toBe('USER_FUNCTION_UNAVAILABLE');

    uf = await startUserFunction('counter', uf.port);
    for (const id of ids) {
      let reply: unknown;
      for (let attempt = 0; attempt < 50 && reply === undefined; attempt++) reply = await h.runtime.refFor('counter', id).ask('GetCurrentCounter', {}).catch(() => undefined);
      expect(reply).toEqual({ value: 2 });
    }
  });

  it('a user function that never answers: the command times out on the system clock with USER_FUNCTION_TIMEOUT; other entities are served', async () => {
    const uf = await startUserFunction('counter');
    const store = await testStore();
    const clock = new ManualClock();
    const system = createActorSystem({ logger: silentLogger, clock });
    const runtime = new EntityRuntime(system, { store });
    const proxy = await startProxy({ userFunction: uf.address, runtime, commandTimeoutMs: 1000 });
    onCleanup(async () => {
      await runtime.stop();
      await proxy.close();
      await system.stop();
    });
    const id = uniqueId('hang');
    const asked = runtime.refFor('counter', id).ask('Increase', { counterId: id, value: 99 }, { timeout: Infinity }).catch((e: unknown) => e);
    await printed(uf, `hanging ${id}`);
    expect(proxy.openStreams).toBe(1);
    let settled = false;
    void asked.then(() => (settled = true));
    clock.advance(999);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(proxy.openStreams).toBe(1);
    // At 1000 ms the stream is ended and the command fails at once (no crash, no retry).
    clock.advance(1);
    const err = (await asked) as Failed;
    expect(proxy.openStreams).toBe(0);
    expect(err).toMatchObject({ code: 'USER_FUNCTION_TIMEOUT', message: expect.stringContaining(`did not answer Increase for "${id}" within 1000 ms`) });
    expect(await store.durableState.get(`counter|${id}`)).toBeUndefined();
    const other = runtime.refFor('counter', uniqueId('other'));
    await other.ask('Increase', { value: 7 }, { timeout: Infinity });
    expect(await other.ask('GetCurrentCounter', {}, { timeout: Infinity })).toEqual({ value: 7 });
  });

  it('concurrent askers of one entity: its single writer loses no update', async () => {
    const uf = await startUserFunction('counter');
    const h = await startHarness(uf.address, await testStore());
    const counter = h.runtime.refFor('counter', uniqueId('busy'));
    await Promise.all(Array.from({ length: 40 }, (_, i) => counter.ask('Increase', { value: (i % 4) + 1 })));
    expect(await counter.ask('GetCurrentCounter', {})).toEqual({ value: 10 * (1 + 2 + 3 + 4) });
  });

  it('malformed input through the gateway: an unknown method, a payload that is not the message type', async () => {
    const uf = await startUserFunction('counter');
    const h = await startHarness(uf.address, await testStore());
    const client = await connect(h.url);
    onCleanup(() => client.close());
    const counter = client.ref('counter', uniqueId('counter'));
    await expect(counter.ask('Multiply', {})).rejects.toMatchObject({ code: 'UNKNOWN_COMMAND' });
    await expect(counter.ask('Increase', { value: 'lots' })).rejects.toMatchObject({ code: 'INVALID_COMMAND', message: expect.stringContaining('com.example.counter.IncreaseValue') });
    await expect(counter.ask('Increase', { value: 1, colour: 'red' })).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
    expect(await counter.ask('Increase', { value: 1 })).toEqual({});
  });

  it('property: any sequence of increases, decreases and resets leaves the stored and the served value equal to the model', async () => {
    const uf = await startUserFunction('counter');
    const store = await testStore();
    const h = await startHarness(uf.address, store);
    type Op = { op: 'Increase' | 'Decrease'; value: number } | { op: 'Reset' };
    const op = fc.oneof(
      fc.record({ op: fc.constant('Increase' as const), value: fc.integer({ min: -2, max: 20 }).filter((v) => v !== 13 && v !== 99) }),
      fc.record({ op: fc.constant('Decrease' as const), value: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ op: fc.constant('Reset' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 8 }), async (ops: Op[]) => {
        const id = uniqueId('prop');
        const counter = h.runtime.refFor('counter', id);
        let model = 0;
        let revision = 0;
        for (const o of ops) {
          const ok = o.op === 'Reset' || (o.op === 'Increase' ? o.value >= 0 : model - o.value >= 0);
          const result = await counter.ask(o.op, o.op === 'Reset' ? {} : { value: o.value }).then(() => 'ok', (e: Failed) => e.code);
          expect(result).toBe(ok ? 'ok' : 'COMMAND_FAILED');
          if (!ok) continue;
          if (o.op === 'Reset') [model, revision] = [0, 0];
          else [model, revision] = [model + (o.op === 'Increase' ? o.value : -o.value), revision + 1];
        }
        expect(await counter.ask('GetCurrentCounter', {})).toEqual(model === 0 ? {} : { value: model });
        expect((await store.durableState.get(`counter|${id}`))?.revision ?? 0).toBe(revision);
      }),
      { numRuns: 15 },
    );
  });
});
