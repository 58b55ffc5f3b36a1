// A scriptable user function speaking the Kalix protocol directly (grpc-js server, the proxy's
// own protocol types): for what no well-behaved SDK does — replies for the wrong command, unknown
// type URLs, silence, other protocol versions, components the proxy does not support.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor.js';
import { codecOf } from '../../src/proxy/protocol.js';
import { onCleanup } from './support.js';

export const COUNTER_PROTO = `
syntax = "proto3";
package test.counter;
message Add { string id = 1; int32 n = 2; }
message Get { string id = 1; }
message Value { int32 value = 1; }
message Added { int32 n = 1; }
message Forward { string id = 1; string to = 2; int32 n = 3; }
service CounterService {
  rpc Add(Add) returns (Value);
  rpc Get(Get) returns (Value);
  rpc Delete(Get) returns (Value);
  rpc AddTo(Forward) returns (Value);
  rpc AddAndTell(Forward) returns (Value);
}
`;

export const counterRoot = protobuf.parse(COUNTER_PROTO).root;
const Value = counterRoot.lookupType('test.counter.Value');
const Added = counterRoot.lookupType('test.counter.Added');
const AddMsg = counterRoot.lookupType('test.counter.Add');
const ForwardMsg = counterRoot.lookupType('test.counter.Forward');

/** The descriptors as a user function sends them in Spec.proto (a serialized FileDescriptorSet). */
export function fileDescriptorSet(root: protobuf.Root): Uint8Array {
  const set = (root as unknown as { toDescriptor(syntax: string): object }).toDescriptor('proto3');
  return (descriptor as unknown as { FileDescriptorSet: { encode(m: object): protobuf.Writer } }).FileDescriptorSet.encode(set).finish();
}

export interface StreamIn {
  readonly init?: { serviceName: string; entityId: string; snapshot?: { snapshotSequence?: number; snapshot?: { typeUrl: string; value: Uint8Array } } };
  readonly event?: { sequence: number; payload: { typeUrl: string; value: Uint8Array } };
  readonly command?: { entityId: string; id: number; name: string; payload?: { typeUrl: string; value: Uint8Array } };
  readonly snapshotRequest?: { requestId: number };
}

/** What the fake's Handle does with each incoming message of a stream; `write` sends a StreamOut. */
export type Script = (msg: StreamIn, write: (out: object) => void, stream: { entityId: string; state: number }) => void;

/**
 * The well-behaved counter: Add emits Added and replies the new value; Get replies it; Delete
 * deletes the entity (its state starts again at 0); AddTo forwards an Add to entity `to`; AddAndTell
 * adds here and tells entity `to` to add too (a side effect). Snapshot requests are answered with
 * the state as a Value.
 */
export const counterScript: Script = (msg, write, s) => {
  if (msg.init) s.entityId = msg.init.entityId;
  if (msg.init?.snapshot?.snapshot) s.state = Value.toObject(Value.decode(msg.init.snapshot.snapshot.value)).value ?? 0;
  if (msg.event) s.state += (Added.toObject(Added.decode(msg.event.payload.value)).n as number | undefined) ?? 0;
  if (msg.snapshotRequest) write({ snapshotReply: { requestId: msg.snapshotRequest.requestId, snapshot: valueAny(Value, { value: s.state }) } });
  const c = msg.command;
  if (c === undefined) return;
  const bytes = c.payload?.value ?? new Uint8Array();
  let events: object[] = [];
  if (c.name === 'Add') {
    const n = (AddMsg.toObject(AddMsg.decode(bytes)).n as number | undefined) ?? 0;
    s.state += n;
    events = [valueAny(Added, { n })];
  }
  if (c.name === 'Delete') {
    s.state = 0;
    write({ reply: { commandId: c.id, clientAction: { reply: { payload: valueAny(Value, { value: 0 }) } }, delete: { seconds: 60 } } });
    return;
  }
  if (c.name === 'AddTo' || c.name === 'AddAndTell') {
    const f = ForwardMsg.toObject(ForwardMsg.decode(bytes)) as { to?: string; n?: number };
    const call = { serviceName: 'test.counter.CounterService', commandName: 'Add', payload: valueAny(AddMsg, { id: f.to ?? '', n: f.n ?? 0 }) };
    if (c.name === 'AddTo') {
      write({ reply: { commandId: c.id, clientAction: { forward: call } } });
      return;
    }
    s.state += f.n ?? 0;
    events = [valueAny(Added, { n: f.n ?? 0 })];
    write({ reply: { commandId: c.id, clientAction: { reply: { payload: valueAny(Value, { value: s.state }) } }, events, sideEffects: [call] } });
    return;
  }
  write({ reply: { commandId: c.id, clientAction: { reply: { payload: valueAny(Value, { value: s.state }) } }, events } });
};

/** One pass over a message's wire bytes, rebuilding it: `f` may replace the value of a length-delimited field. */
function mapLengthDelimited(bytes: Uint8Array, f: (field: number, value: Uint8Array) => Uint8Array): Uint8Array {
  const r = protobuf.Reader.create(bytes);
  const chunks: Uint8Array[] = [];
  while (r.pos < r.len) {
    const start = r.pos;
    const tag = r.uint32();
    if ((tag & 7) === 2) chunks.push(protobuf.Writer.create().uint32(tag).bytes(f(tag >>> 3, r.bytes())).finish());
    else {
      r.skipType(tag & 7);
      chunks.push(bytes.subarray(start, r.pos));
    }
  }
  return Buffer.concat(chunks);
}

const nameOf = (bytes: Uint8Array): string => {
  let name = '';
  mapLengthDelimited(bytes, (field, v) => {
    if (field === 1) name = Buffer.from(v).toString('utf8');
    return v;
  });
  return name;
};

/**
 * `set` with `(kalix.field).entity_key = true` on `message.field` (protobufjs writes no custom
 * options, so the bytes are added by hand: FieldOptions field 1080, kalix.FieldOptions.entity_key 1).
 */
export function withEntityKey(set: Uint8Array, message: string, field: string): Uint8Array {
  const kalixField = protobuf.Writer.create().uint32((1 << 3) | 0).bool(true).finish();
  const options = protobuf.Writer.create().uint32((1080 << 3) | 2).bytes(kalixField).finish();
  return mapLengthDelimited(set, (f, file) =>
    f !== 1
      ? file
      : mapLengthDelimited(file, (g, msg) =>
          g !== 4 || nameOf(msg) !== message
            ? msg
            : mapLengthDelimited(msg, (h, fd) => (h !== 2 || nameOf(fd) !== field ? fd : Buffer.concat([fd, protobuf.Writer.create().uint32((8 << 3) | 2).bytes(options).finish()]))),
        ),
  );
}

export function valueAny(type: protobuf.Type, value: object): { typeUrl: string; value: Uint8Array } {
  return { typeUrl: `type.googleapis.com/${type.fullName.slice(1)}`, value: type.encode(type.fromObject(value)).finish() };
}

export interface FakeOptions {
  readonly protocolMajorVersion?: number;
  readonly components?: readonly object[];
  readonly script?: Script;
  /** Spec.proto as sent; default the counter's descriptors. */
  readonly descriptorSet?: Uint8Array;
}

export interface Fake {
  readonly address: string;
  /** Every StreamIn received, by stream (in order of opening). */
  readonly streams: StreamIn[][];
  readonly reportedErrors: { message: string; code: string }[];
  terminated: number;
  script: Script;
}

const DEFAULT_COMPONENTS = [{ componentType: 'kalix.component.eventsourcedentity.EventSourcedEntities', serviceName: 'test.counter.CounterService', entity: { entityType: 'counter' } }];

export async function startFake(options: FakeOptions = {}): Promise<Fake> {
  const server = new grpc.Server();
  const def = (path: string, reqType: string, resType: string, stream = false): grpc.MethodDefinition<object, object> => {
    const req = codecOf(reqType);
    const res = codecOf(resType);
    return {
      path,
      requestStream: stream,
      responseStream: stream,
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize as (b: Buffer) => object,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize as (b: Buffer) => object,
    };
  };
  const fake: Fake = { address: '', streams: [], reportedErrors: [], terminated: 0, script: options.script ?? counterScript };
  const spec = {
    proto: options.descriptorSet ?? fileDescriptorSet(counterRoot),
    components: options.components ?? DEFAULT_COMPONENTS,
    serviceInfo: { serviceName: 'fake', supportLibraryName: 'fake', protocolMajorVersion: options.protocolMajorVersion ?? 1, protocolMinorVersion: 1 },
  };
  server.addService(
    {
      Discover: def('/kalix.protocol.Discovery/Discover', 'kalix.protocol.ProxyInfo', 'kalix.protocol.Spec'),
      ReportError: def('/kalix.protocol.Discovery/ReportError', 'kalix.protocol.UserFunctionError', 'google.protobuf.Empty'),
      ProxyTerminated: def('/kalix.protocol.Discovery/ProxyTerminated', 'google.protobuf.Empty', 'google.protobuf.Empty'),
      HealthCheck: def('/kalix.protocol.Discovery/HealthCheck', 'google.protobuf.Empty', 'google.protobuf.Empty'),
    },
    {
      Discover: (_call: unknown, cb: grpc.sendUnaryData<object>) => cb(null, spec),
      ReportError: (call: grpc.ServerUnaryCall<{ message: string; code: string }, object>, cb: grpc.sendUnaryData<object>) => {
        fake.reportedErrors.push({ message: call.request.message, code: call.request.code });
        cb(null, {});
      },
      ProxyTerminated: (_call: unknown, cb: grpc.sendUnaryData<object>) => {
        fake.terminated++;
        cb(null, {});
      },
      HealthCheck: (_call: unknown, cb: grpc.sendUnaryData<object>) => cb(null, {}),
    },
  );
  server.addService(
    {
      Handle: def(
        '/kalix.component.eventsourcedentity.EventSourcedEntities/Handle',
        'kalix.component.eventsourcedentity.EventSourcedStreamIn',
        'kalix.component.eventsourcedentity.EventSourcedStreamOut',
        true,
      ),
    },
    {
      Handle: (call: grpc.ServerDuplexStream<StreamIn, object>) => {
        const log: StreamIn[] = [];
        fake.streams.push(log);
        const state = { entityId: '', state: 0 };
        call.on('data', (msg: StreamIn) => {
          log.push(msg);
          fake.script(msg, (out) => call.write(out), state);
        });
        call.on('end', () => call.end());
        call.on('error', () => undefined);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  onCleanup(() => server.forceShutdown());
  return Object.assign(fake, { address: `127.0.0.1:${port}` });
}

