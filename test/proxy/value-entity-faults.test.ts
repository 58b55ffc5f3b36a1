// Value entities and actions against a scripted user function speaking the Kalix protocol
// directly (what no well-behaved SDK does: replies for the wrong command, unknown type URLs,
// oversized answers), and the protocol's rules as fast-check properties. In-process, memory or
// PostgreSQL store (DATABASE_URL), no SDK needed.
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { createActorSystem, EntityRuntime, ManualClock, silentLogger } from '../../src/index.js';
import type { Store } from '../../src/persistence/index.js';
import { codecOf } from '../../src/proxy/protocol.js';
import { startProxy } from '../../src/proxy/index.js';
import { delegate, storeWith, until } from '../entities/support.js';
import { fileDescriptorSet, valueAny, withEntityKey } from './fake-user-function.js';
import { onCleanup, testStore, uniqueId } from './support.js';

const root = protobuf.parse(`
syntax = "proto3";
package test.value;
message Set { string id = 1; int32 value = 2; }
message Get { string id = 1; }
message Value { int32 value = 1; }
message Echo { string text = 1; }
service ValueService {
  rpc Set(Set) returns (Value);
  rpc Get(Get) returns (Value);
  rpc Clear(Get) returns (Value);
  rpc Fail(Get) returns (Value);
}
service EchoActions {
  rpc Echo(Echo) returns (Echo);
}
`).root;
const Value = root.lookupType('test.value.Value');
const SetMsg = root.lookupType('test.value.Set');
const EchoMsg = root.lookupType('test.value.Echo');

interface StreamIn {
  readonly init?: { entityId: string; state?: { value?: { typeUrl: string; value: Uint8Array } } };
  readonly command?: { id: number; name: string; payload?: { value: Uint8Array } };
}
type Script = (msg: StreamIn, write: (out: object) => void, s: { value: number }) => void;

/** The well-behaved value counter: Set stores `value`, Get replies it, Clear deletes, Fail fails. */
const wellBehaved: Script = (msg, write, s) => {
  if (msg.init) s.value = msg.init.state?.value ? ((Value.toObject(Value.decode(msg.init.state.value.value)).value as number | undefined) ?? 0) : 0;
  const c = msg.command;
  if (c === undefined) return;
  const reply = (value: number, stateAction?: object): void => write({ reply: { commandId: c.id, clientAction: { reply: { payload: valueAny(Value, { value }) } }, ...(stateAction ? { stateAction } : {}) } });
  if (c.name === 'Set') {
    s.value = (SetMsg.toObject(SetMsg.decode(c.payload?.value ?? new Uint8Array())).value as number | undefined) ?? 0;
    reply(s.value, { update: { value: valueAny(Value, { value: s.value }) } });
  } else if (c.name === 'Clear') {
    s.value = 0;
    reply(0, { delete: {} });
  } else if (c.name === 'Fail') write({ reply: { commandId: c.id, clientAction: { failure: { description: 'failed on purpose', grpcStatusCode: 3 } } } });
  else reply(s.value);
};

interface Fake {
  readonly address: string;
  readonly streams: StreamIn[][];
  script: Script;
  action: (request: { name: string; payload?: { value: Uint8Array } }) => object | undefined;
}

async function startFake(): Promise<Fake> {
  const server = new grpc.Server();
  const def = (path: string, reqType: string, resType: string, stream: boolean): grpc.MethodDefinition<object, object> => {
    const req = codecOf(reqType);
    const res = codecOf(resType);
    return { path, requestStream: stream, responseStream: stream, requestSerialize: req.serialize, requestDeserialize: req.deserialize as (b: Buffer) => object, responseSerialize: res.serialize, responseDeserialize: res.deserialize as (b: Buffer) => object };
  };
  const fake: Fake = {
    address: '',
    streams: [],
    script: wellBehaved,
    action: (r) => ({ reply: { payload: valueAny(EchoMsg, EchoMsg.toObject(EchoMsg.decode(r.payload?.value ?? new Uint8Array()))) } }),
  };
  const spec = {
    // Get.id is an entity key (forwards to Get are routed by it); Set has none.
    proto: withEntityKey(fileDescriptorSet(root), 'Get', 'id'),
    components: [
      { componentType: 'kalix.component.valueentity.ValueEntities', serviceName: 'test.value.ValueService', entity: { entityType: 'value' } },
      { componentType: 'kalix.component.action.Actions', serviceName: 'test.value.EchoActions' },
    ],
    serviceInfo: { serviceName: 'fake', supportLibraryName: 'fake', protocolMajorVersion: 1, protocolMinorVersion: 1 },
  };
  server.addService(
    {
      Discover: def('/kalix.protocol.Discovery/Discover', 'kalix.protocol.ProxyInfo', 'kalix.protocol.Spec', false),
      ProxyTerminated: def('/kalix.protocol.Discovery/ProxyTerminated', 'google.protobuf.Empty', 'google.protobuf.Empty', false),
    },
    {
      Discover: (_call: unknown, cb: grpc.sendUnaryData<object>) => cb(null, spec),
      ProxyTerminated: (_call: unknown, cb: grpc.sendUnaryData<object>) => cb(null, {}),
    },
  );
  server.addService(
    { Handle: def('/kalix.component.valueentity.ValueEntities/Handle', 'kalix.component.valueentity.ValueEntityStreamIn', 'kalix.component.valueentity.ValueEntityStreamOut', true) },
    {
      Handle: (call: grpc.ServerDuplexStream<StreamIn, object>) => {
        const log: StreamIn[] = [];
        fake.streams.push(log);
        const s = { value: 0 };
        call.on('data', (msg: StreamIn) => {
          log.push(msg);
          fake.script(msg, (out) => call.write(out), s);
        });
        call.on('end', () => call.end());
        call.on('error', () => undefined);
      },
    },
  );
  server.addService(
    { HandleUnary: def('/kalix.component.action.Actions/HandleUnary', 'kalix.component.action.ActionCommand', 'kalix.component.action.ActionResponse', false) },
    {
      HandleUnary: (call: grpc.ServerUnaryCall<{ name: string; payload?: { value: Uint8Array } }, object>, cb: grpc.sendUnaryData<object>) => {
        const out = fake.action(call.request);
        if (out !== undefined) cb(null, out);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  onCleanup(() => server.forceShutdown());
  return Object.assign(fake, { address: `127.0.0.1:${port}` });
}

async function proxied(address: string, store: Store, extra: { maxMessageBytes?: number; settings?: { idleTimeoutMs?: number } } = {}, clock?: ManualClock) {
  const system = createActorSystem({ logger: silentLogger, ...(clock ? { clock } : {}) });
  const runtime = new EntityRuntime(system, { store });
  const proxy = await startProxy({ userFunction: address, runtime, ...extra });
  onCleanup(async () => {
    await runtime.stop();
    await proxy.close();
    await system.stop();
  });
  return { runtime, proxy };
}

type Failed = { code: string; message: string; details?: unknown };
const storedValue = async (store: Store, id: string): Promise<number | undefined> => {
  const rec = await store.durableState.get(`value|${id}`);
  if (rec === undefined) return undefined;
  const any = (rec.value as { value: { value: Uint8Array } }).value;
  return (Value.toObject(Value.decode(any.value)).value as number | undefined) ?? 0;
};

/** The state a stream was inited with (undefined: none). */
const initValue = (stream: readonly StreamIn[]): number | undefined => {
  const v = stream[0]?.init?.state?.value;
  return v === undefined ? undefined : ((Value.toObject(Value.decode(v.value)).value as number | undefined) ?? 0);
};

describe('value entity protocol faults: each a clear code, nothing half-persisted, the others served', () => {
  it('a reply for another command id: PROXY_PROTOCOL_ERROR at once, its update not stored; the next command re-inits', async () => {
    const fake = await startFake();
    const store = await testStore();
    const { runtime } = await proxied(fake.address, store);
    const id = uniqueId('v');
    await runtime.refFor('value', id).ask('Set', { value: 1 });
    fake.script = (msg, write, s) => (msg.command ? write({ reply: { commandId: msg.command.id + 7, stateAction: { update: { value: valueAny(Value, { value: 99 }) } } } }) : wellBehaved(msg, write, s));
    const err = (await runtime.refFor('value', id).ask('Set', { value: 99 }).catch((e: unknown) => e)) as Failed;
    expect(err).toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining('replied to command id 9, but command id 2 was waiting') });
    expect(await storedValue(store, id)).toBe(1);
    fake.script = wellBehaved;
    expect(await runtime.refFor('value', id).ask('Get', {})).toEqual({ value: 1 });
    // The new stream's init carried the stored state.
    expect(fake.streams.at(-1)?.[0]?.init?.state?.value?.typeUrl).toBe('type.googleapis.com/test.value.Value');
  });

  it('a reply of an unknown type URL: PROXY_PROTOCOL_ERROR, its update not stored', async () => {
    const fake = await startFake();
    const store = await testStore();
    const { runtime } = await proxied(fake.address, store);
    const id = uniqueId('v');
    fake.script = (msg, write, s) =>
      msg.command
        ? write({ reply: { commandId: msg.command.id, clientAction: { reply: { payload: { typeUrl: 'type.googleapis.com/no.such.Type', value: new Uint8Array() } } }, stateAction: { update: { value: valueAny(Value, { value: 5 }) } } } })
        : wellBehaved(msg, write, s);
    const err = (await runtime.refFor('value', id).ask('Set', { value: 5 }).catch((e: unknown) => e)) as Failed;
    expect(err).toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining('unknown type URL "type.googleapis.com/no.such.Type"') });
    expect(await storedValue(store, id)).toBeUndefined();
    fake.script = wellBehaved;
    expect(await runtime.refFor('value', uniqueId('other')).ask('Set', { value: 2 })).toEqual({ value: 2 });
  });

  it('an update whose state has no type URL (no user function could read it back): PROXY_PROTOCOL_ERROR, nothing stored', async () => {
    const fake = await startFake();
    const store = await testStore();
    const { runtime } = await proxied(fake.address, store);
    const id = uniqueId('v');
    await runtime.refFor('value', id).ask('Set', { value: 4 });
    for (const update of [{ value: { typeUrl: '', value: new Uint8Array([8, 1]) } }, {}]) {
      fake.script = (msg, write, s) => (msg.command ? write({ reply: { commandId: msg.command.id, clientAction: { reply: { payload: valueAny(Value, { value: 1 }) } }, stateAction: { update } } }) : wellBehaved(msg, write, s));
      await expect(runtime.refFor('value', id).ask('Set', { value: 1 })).rejects.toMatchObject({ code: 'PROXY_PROTOCOL_ERROR', message: expect.stringContaining('without a type URL') });
      expect(await storedValue(store, id)).toBe(4);
    }
    fake.script = wellBehaved;
    expect(await runtime.refFor('value', id).ask('Get', {})).toEqual({ value: 4 });
  });

  it('an empty StreamOut is PROXY_PROTOCOL_ERROR; a stream-level failure crashes the entity (then POISON_COMMAND); both store nothing', async () => {
    const fake = await startFake();
    const store = await testStore();
    const { runtime } = await proxied(fake.address, store);
    const id = uniqueId('v');
    fake.script = (msg, write, s) => (msg.command ? write({}) : wellBehaved(msg, write, s));
    await expect(runtime.refFor('value', id).ask('Set', { value: 3 })).rejects.toMatchObject({ code: 'PROXY_PROTOCOL_ERROR' });
    fake.script = (msg, write, s) => (msg.command ? write({ failure: { commandId: msg.command.id, description: 'boom' } }) : wellBehaved(msg, write, s));
    const err = (await runtime.refFor('value', id).ask('Set', { value: 3 }).catch((e: unknown) => e)) as Failed & { cause: Failed };
    expect(err.code).toBe('POISON_COMMAND');
    expect(err.cause).toMatchObject({ code: 'USER_FUNCTION_FAILED', message: 'Set failed in the user function: boom' });
    expect(await storedValue(store, id)).toBeUndefined();
  });

  it('a command over maxMessageBytes is refused before it is sent; an answer over it is MESSAGE_TOO_LARGE; nothing stored', async () => {
    const fake = await startFake();
    const store = await testStore();
    const { runtime } = await proxied(fake.address, store, { maxMessageBytes: 1024 });
    const id = uniqueId('v');
    const sent = fake.streams.length;
    await expect(runtime.refFor('value', id).ask('Get', { id: 'x'.repeat(2000) })).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    expect(fake.streams.length).toBe(sent);
    fake.script = (msg, write, s) =>
      msg.command
        ? write({ reply: { commandId: msg.command.id, clientAction: { reply: { payload: valueAny(Value, { value: 1 }) } }, stateAction: { update: { value: { typeUrl: 'x', value: new Uint8Array(4096) } } } } })
        : wellBehaved(msg, write, s);
    await expect(runtime.refFor('value', id).ask('Set', { value: 1 })).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    expect(await storedValue(store, id)).toBeUndefined();
  });

  it('an action answer of an unknown type URL is PROXY_PROTOCOL_ERROR; a failure keeps its text and status', async () => {
    const fake = await startFake();
    const { runtime } = await proxied(fake.address, await testStore());
    const echo = runtime.refFor('test.value.EchoActions', 'any');
    expect(await echo.ask('Echo', { text: 'hi' })).toEqual({ text: 'hi' });
    fake.action = () => ({ reply: { payload: { typeUrl: 'type.googleapis.com/no.such.Type', value: new Uint8Array() } } });
    await expect(echo.ask('Echo', { text: 'hi' })).rejects.toMatchObject({ code: 'PROXY_PROTOCOL_ERROR' });
    fake.action = () => ({ failure: { description: 'no echo today', grpcStatusCode: 9 } });
    await expect(echo.ask('Echo', { text: 'hi' })).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'no echo today', details: { grpcStatusCode: 9 } });
  });
});

describe('value entity lifecycle and effects', () => {
  it('passivation closes the stream; the next command re-inits it with the stored state', async () => {
    const fake = await startFake();
    const store = await testStore();
    const clock = new ManualClock();
    const { runtime, proxy } = await proxied(fake.address, store, { settings: { idleTimeoutMs: 1000 } }, clock);
    const id = uniqueId('idle');
    await runtime.refFor('value', id).ask('Set', { value: 42 }, { timeout: Infinity });
    expect(proxy.openStreams).toBe(1);
    clock.advance(1000);
    await until(() => proxy.openStreams === 0, 'passivation to close the stream');
    const streams = fake.streams.length;
    expect(await runtime.refFor('value', id).ask('Get', {}, { timeout: Infinity })).toEqual({ value: 42 });
    expect(fake.streams.length).toBe(streams + 1);
    expect(initValue(fake.streams.at(-1) ?? [])).toBe(42);
  });

  it("a value entity's update with a forward and a side effect: the update is stored, the forward's reply (routed by entity_key) is the caller's, the side effect is told to the action", async () => {
    const fake = await startFake();
    const store = await testStore();
    const { runtime } = await proxied(fake.address, store);
    const [a, b] = [uniqueId('fwd'), uniqueId('fwd')];
    await runtime.refFor('value', b).ask('Set', { value: 7 });
    const echoed: string[] = [];
    fake.action = (r) => {
      const text = EchoMsg.toObject(EchoMsg.decode(r.payload?.value ?? new Uint8Array())).text as string;
      echoed.push(text);
      return { reply: { payload: valueAny(EchoMsg, { text }) } };
    };
    fake.script = (msg, write, st) => {
      const c = msg.command;
      if (c?.name !== 'Set' || st.value !== -1) return wellBehaved(msg, write, st);
      // Stores 1, then forwards to entity b's Get (keyed by Get.id) and tells the action.
      write({
        reply: {
          commandId: c.id,
          clientAction: { forward: { serviceName: 'test.value.ValueService', commandName: 'Get', payload: valueAny(root.lookupType('test.value.Get'), { id: b }) } },
          sideEffects: [{ serviceName: 'test.value.EchoActions', commandName: 'Echo', payload: valueAny(EchoMsg, { text: 'told' }) }],
          stateAction: { update: { value: valueAny(Value, { value: 1 }) } },
        },
      });
    };
    // The fake marks entity a for the forward by an init value of -1.
    await store.durableState.upsert(`value|${a}`, 0, { value: valueAny(Value, { value: -1 }) }, { type: 'value' });
    expect(await runtime.refFor('value', a).ask('Set', { value: 1 })).toEqual({ value: 7 });
    expect(await storedValue(store, a)).toBe(1);
    await until(() => echoed.length === 1, 'the side effect');
    expect(echoed).toEqual(['told']);
  });
});

describe('value entity protocol rules as properties', () => {
  it("an update is stored before the reply is delivered (the reply waits for the write; a failed write delivers no reply)", async () => {
    const fake = await startFake();
    const base = await testStore();
    const held: { go(): void; fail(err: Error): void }[] = [];
    const upsert: Store['durableState']['upsert'] = (...args) =>
      new Promise((resolve, reject) => held.push({ go: () => base.durableState.upsert(...args).then(resolve, reject), fail: reject }));
    const store = storeWith(base, { durableState: delegate(base.durableState, { upsert }) });
    const { runtime } = await proxied(fake.address, store);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.boolean()), { minLength: 1, maxLength: 6 }), async (writes) => {
        const id = uniqueId('held');
        const ref = runtime.refFor('value', id);
        let stored: number | undefined;
        for (const [value, commits] of writes) {
          let delivered = false;
          const asked = ref.ask('Set', { value }).then(
            (r) => ((delivered = true), r),
            (e: unknown) => ((delivered = true), e),
          );
          await until(() => held.length === 1, 'the write');
          for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
          expect(delivered).toBe(false);
          const h = held.shift() as (typeof held)[number];
          if (commits) {
            h.go();
            expect(await asked).toEqual(value === 0 ? {} : { value }); // proto3 JSON leaves out zeros
            stored = value;
          } else {
            h.fail(new Error('the write failed'));
            expect(await asked).toMatchObject({ code: 'PERSIST_FAILED' });
          }
          expect(await storedValue(base, id)).toBe(stored);
        }
        // Whatever failed before, the user function is told exactly the stored state.
        expect(await ref.ask('Get', {})).toEqual(stored === undefined || stored === 0 ? {} : { value: stored });
      }),
      { numRuns: 10 },
    );
  });

  it('any sequence of set, clear, fail and protocol faults: every new stream is inited with exactly the stored state', async () => {
    const fake = await startFake();
    const store = await testStore();
    const { runtime } = await proxied(fake.address, store);
    type Op = { kind: 'Set'; value: number } | { kind: 'Clear' } | { kind: 'Fail' } | { kind: 'WrongId'; value: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('Set' as const), value: fc.integer({ min: 1, max: 1000 }) }),
      fc.constant({ kind: 'Clear' as const }),
      fc.constant({ kind: 'Fail' as const }),
      fc.record({ kind: fc.constant('WrongId' as const), value: fc.integer({ min: 1, max: 1000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 10 }), async (ops) => {
        const id = uniqueId('seq');
        const ref = runtime.refFor('value', id);
        let model: number | undefined;
        for (const o of ops) {
          const inits = fake.streams.length;
          const before = model;
          if (o.kind === 'WrongId') {
            fake.script = (msg, write, s) => (msg.command ? write({ reply: { commandId: msg.command.id + 1, stateAction: { update: { value: valueAny(Value, { value: o.value }) } } } }) : wellBehaved(msg, write, s));
            await expect(ref.ask('Set', { value: o.value })).rejects.toMatchObject({ code: 'PROXY_PROTOCOL_ERROR' });
            fake.script = wellBehaved;
          } else if (o.kind === 'Fail') {
            await expect(ref.ask('Fail', {})).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'failed on purpose', details: { grpcStatusCode: 3 } });
          } else if (o.kind === 'Clear') {
            await ref.ask('Clear', {});
            model = undefined;
          } else {
            await ref.ask('Set', { value: o.value });
            model = o.value;
          }
          // A stream opened for this command was inited with exactly the state stored before it.
          for (const opened of fake.streams.slice(inits)) expect(initValue(opened)).toBe(before);
          expect(await storedValue(store, id)).toBe(model);
        }
        // The user function answers from its stream's memory: it holds exactly the stored state.
        expect(await ref.ask('Get', {})).toEqual(model === undefined ? {} : { value: model });
      }),
      { numRuns: 20 },
    );
  });
});
