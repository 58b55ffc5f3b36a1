import protobuf from 'protobufjs';
import { kalixProtocolJson } from './protocol/kalix-protocol.js';

/** Protocol version this proxy speaks (the Kalix JavaScript SDK 1.1.x speaks 1.1). */
export const PROTOCOL_MAJOR_VERSION = 1;
export const PROTOCOL_MINOR_VERSION = 1;

/** A `google.protobuf.Any` as the proxy holds it. */
export interface AnyMessage {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

let root: protobuf.Root | undefined;

/** The Kalix protocol's types (loaded once, from the vendored protocol's JSON). */
export function protocolRoot(): protobuf.Root {
  if (root === undefined) {
    root = protobuf.Root.fromJSON(kalixProtocolJson as unknown as protobuf.INamespace);
    root.resolveAll();
  }
  return root;
}

export function protocolType(name: string): protobuf.Type {
  return protocolRoot().lookupType(name);
}

/** Plain-object conversion used for every protocol message: int64 as numbers, enums as numbers, bytes as Uint8Array. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: Number, arrays: true };

/** Serializer and deserializer for grpc-js's generic client calls. */
export function codecOf(typeName: string): { serialize: (value: object) => Buffer; deserialize: (bytes: Buffer) => unknown } {
  const type = protocolType(typeName);
  return {
    serialize: (value) => Buffer.from(type.encode(type.fromObject(value)).finish()),
    deserialize: (bytes) => type.toObject(type.decode(bytes), TO_OBJECT),
  };
}

/** An `Any` as decoded (proto3 leaves empty fields out) with both fields present. */
export function normalizeAny(raw: { readonly typeUrl?: string; readonly value?: Uint8Array }): AnyMessage {
  return { typeUrl: raw.typeUrl ?? '', value: raw.value ?? new Uint8Array() };
}
