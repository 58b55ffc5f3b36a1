import type protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';
import type { StandardSchemaV1 } from '../entities/standard-schema.js';
import { typeOfUrl } from './descriptors.js';
import { ProxyProtocolError } from './errors.js';
import { type AnyMessage, normalizeAny } from './protocol.js';

/**
 * Transcoding between the gateway's JSON (the protobuf canonical JSON mapping) and the
 * protobuf bytes the user function reads, driven by the descriptors from discovery.
 */

/**
 * A request already in protobuf bytes, decoded once as `type` by the gRPC front: the command gets
 * the bytes as they came (unknown fields included, as the Kalix proxy passes them), with no JSON
 * round trip. Only made in-process: a gateway client cannot send one.
 */
export class EncodedMessage {
  constructor(
    readonly type: protobuf.Type,
    readonly bytes: Uint8Array,
  ) {}
}

/** A Standard Schema that accepts the canonical JSON of `type` (or an {@link EncodedMessage} of it) and outputs the message's protobuf bytes. */
export function messageSchema(type: protobuf.Type): StandardSchemaV1<unknown, Uint8Array> {
  return {
    '~standard': {
      version: 1,
      vendor: 'beamstate-proxy',
      validate: (value) => {
        if (value instanceof EncodedMessage) return value.type === type ? { value: value.bytes } : { issues: [{ message: `not a ${type.fullName.slice(1)}: a ${value.type.fullName.slice(1)}` }] };
        if (value === undefined || value === null) value = {};
        try {
          const message = protojson.fromJson(type, value);
          const problem = type.verify(message);
          if (problem !== null) return { issues: [{ message: `not a ${type.fullName.slice(1)}: ${problem}` }] };
          return { value: type.encode(message).finish() };
        } catch (err) {
          return { issues: [{ message: `not a ${type.fullName.slice(1)}: ${(err as Error).message}` }] };
        }
      },
    },
  };
}

/** An `Any` holding `bytes` of `type`. */
export function toAny(type: protobuf.Type, bytes: Uint8Array): AnyMessage {
  return { typeUrl: `type.googleapis.com/${type.fullName.slice(1)}`, value: bytes };
}

/** The canonical JSON of an `Any` from the user function; an unknown type URL or bad bytes are PROXY_PROTOCOL_ERROR. */
export function anyToJson(root: protobuf.Root, any: AnyMessage | null | undefined, expected: protobuf.Type): unknown {
  if (any === null || any === undefined) return protojson.toJson(expected, expected.create({}));
  any = normalizeAny(any);
  const type = typeOfUrl(root, any.typeUrl);
  if (type === undefined) throw new ProxyProtocolError(`the user function replied with an Any of unknown type URL ${JSON.stringify(any.typeUrl)}`);
  // The caller decodes what it gets as `expected`: another type's bytes would read as garbage, or not at all.
  if (type.fullName !== expected.fullName && expected.fullName !== '.google.protobuf.Any') {
    throw new ProxyProtocolError(`the user function replied with a ${type.fullName.slice(1)} where a ${expected.fullName.slice(1)} is expected`);
  }
  try {
    return protojson.toJson(type, type.decode(any.value));
  } catch (err) {
    throw new ProxyProtocolError(`the user function's ${type.fullName.slice(1)} reply cannot be decoded: ${(err as Error).message}`, { cause: err });
  }
}
