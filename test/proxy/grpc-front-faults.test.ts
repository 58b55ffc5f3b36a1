// The gRPC front against a user function that breaks the protocol (the scripted fake): each
// fault is the gRPC status of its code, nothing is written, and the other entities go on.
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createActorSystem, EntityRuntime, silentLogger } from '../../src/index.js';
import { createStore, type Store } from '../../src/persistence/index.js';
import { startGrpcFront, startProxy } from '../../src/proxy/index.js';
import { counterRoot, counterScript, fileDescriptorSet, type Script, startFake, withEntityKey } from './fake-user-function.js';
import { type CallError, serviceClient, type ServiceClient } from './grpc-client.js';
import { onCleanup } from './support.js';

const ADDED_5 = { typeUrl: 'type.googleapis.com/test.counter.Added', value: new Uint8Array([8, 5]) };

/** Misbehaves for entity "bad" only; the others get the well-behaved counter. */
const onlyFor =
  (bad: Script): Script =>
  (msg, write, s) => {
    if (msg.init) s.entityId = msg.init.entityId;
    (s.entityId === 'bad' ? bad : counterScript)(msg, write, s);
  };

async function served(script: Script): Promise<{ client: ServiceClient; store: Store }> {
  // Add and Get name their entity by `id`, as `(kalix.field).entity_key` marks it.
  const descriptorSet = withEntityKey(withEntityKey(fileDescriptorSet(counterRoot), 'Add', 'id'), 'Get', 'id');
  const fake = await startFake({ script, descriptorSet });
  const store = await createStore({ kind: 'memory', logger: silentLogger });
  onCleanup(() => store.close());
  const system = createActorSystem({ logger: silentLogger });
  onCleanup(() => system.stop());
  const runtime = new EntityRuntime(system, { store });
  const proxy = await startProxy({ userFunction: fake.address, runtime, settings: { backoff: { minMs: 0, maxMs: 0, randomFactor: 0 } } });
  onCleanup(async () => {
    await runtime.stop();
    await proxy.close();
  });
  const front = await startGrpcFront({ proxy, runtime });
  onCleanup(() => front.close());
  const client = serviceClient(counterRoot, 'test.counter.CounterService', front.address);
  onCleanup(() => client.close());
  return { client, store };
}

async function failed(p: Promise<unknown>): Promise<CallError> {
  return p.then(
    (v) => {
      throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
    },
    (err: unknown) => err as CallError,
  );
}

describe('the gRPC front and a user function that breaks the protocol', () => {
  const cases: [string, Script, status, string][] = [
    ['a reply for another command id', (msg, write) => msg.command && write({ reply: { commandId: msg.command.id + 100, clientAction: { reply: {} }, events: [ADDED_5] } }), status.INTERNAL, 'PROXY_PROTOCOL_ERROR'],
    [
      'an Any of an unknown type URL',
      (msg, write) => msg.command && write({ reply: { commandId: msg.command.id, clientAction: { reply: { payload: { typeUrl: 'type.googleapis.com/no.such.Type', value: new Uint8Array() } } }, events: [ADDED_5] } }),
      status.INTERNAL,
      'PROXY_PROTOCOL_ERROR',
    ],
    ['a reply of another type than the output', (msg, write) => msg.command && write({ reply: { commandId: msg.command.id, clientAction: { reply: { payload: ADDED_5 } }, events: [ADDED_5] } }), status.INTERNAL, 'PROXY_PROTOCOL_ERROR'],
    // A stream-level failure crashes the entity each time (retried, then POISON_COMMAND): the status it carried.
    ['a stream-level failure with PERMISSION_DENIED', (msg, write) => msg.command && write({ failure: { commandId: msg.command.id, description: 'no', grpcStatusCode: status.PERMISSION_DENIED } }), status.PERMISSION_DENIED, 'POISON_COMMAND'],
    ['a stream-level failure without a status', (msg, write) => msg.command && write({ failure: { commandId: msg.command.id, description: 'threw' } }), status.UNKNOWN, 'POISON_COMMAND'],
    ['a client failure with FAILED_PRECONDITION', (msg, write) => msg.command && write({ reply: { commandId: msg.command.id, clientAction: { failure: { commandId: msg.command.id, description: 'not now', grpcStatusCode: status.FAILED_PRECONDITION } } } }), status.FAILED_PRECONDITION, 'COMMAND_FAILED'],
  ];
  for (const [what, bad, code, beamstateCode] of cases) {
    it(`${what}: ${status[code]} (${beamstateCode}); nothing written; the other entities go on`, async () => {
      const { client, store } = await served(onlyFor(bad));
      expect(await failed(client.call('Add', { id: 'bad', n: 5 }))).toMatchObject({ code, beamstateCode });
      expect(await store.journal.read('counter|bad')).toEqual([]);
      expect(await client.call('Add', { id: 'good', n: 2 })).toEqual({ value: 2 });
      expect(await client.call('Get', { id: 'good' })).toEqual({ value: 2 });
    });
  }
});
