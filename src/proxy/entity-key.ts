import protobuf from 'protobufjs';
import { InvalidDescriptorError } from './errors.js';

/**
 * The `(kalix.field).entity_key` fields of the user's messages, read from the raw
 * FileDescriptorSet (protobufjs's reflection drops custom options). A gRPC call is routed to the
 * entity named by its input message's key fields, as the Kalix proxy does.
 */

/** `extend google.protobuf.FieldOptions { kalix.FieldOptions field = 1080; }` (kalix/annotations.proto). */
const KALIX_FIELD_OPTIONS = 1080;
/** `kalix.FieldOptions.entity_key` */
const ENTITY_KEY = 1;
/** Between the values of a message with several key fields, as Cloudstate's proxy joins them. */
export const ENTITY_KEY_SEPARATOR = '-';

const LEN = 2;
const VARINT = 0;

/**
 * One pass over a message's wire bytes: `visit(field, wireType, reader)` must consume the value
 * or return false to have it skipped. Also used by grpc-reflection.ts.
 * @internal
 */
export function walk(bytes: Uint8Array, visit: (field: number, wireType: number, r: protobuf.Reader) => boolean): void {
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (!visit(field, wireType, r)) r.skipType(wireType);
  }
}

function fieldOptionsHaveEntityKey(options: Uint8Array): boolean {
  let key = false;
  walk(options, (field, wt, r) => {
    if (field !== KALIX_FIELD_OPTIONS || wt !== LEN) return false;
    walk(r.bytes(), (f, w, inner) => {
      if (f !== ENTITY_KEY || w !== VARINT) return false;
      key = inner.bool();
      return true;
    });
    return true;
  });
  return key;
}

/** A DescriptorProto: its entity-key field numbers (declaration order) under `prefix.name`, and its nested types'. */
function readMessage(bytes: Uint8Array, prefix: string, out: Map<string, number[]>): void {
  let name = '';
  const keys: number[] = [];
  const nested: Uint8Array[] = [];
  walk(bytes, (field, wt, r) => {
    if (wt !== LEN) return false;
    if (field === 1) name = r.string();
    else if (field === 3) nested.push(r.bytes());
    else if (field === 2) {
      // FieldDescriptorProto: 3 number, 8 options
      let number = 0;
      let isKey = false;
      walk(r.bytes(), (f, w, fr) => {
        if (f === 3 && w === VARINT) number = fr.int32();
        else if (f === 8 && w === LEN) isKey = fieldOptionsHaveEntityKey(fr.bytes());
        else return false;
        return true;
      });
      if (isKey) keys.push(number);
    } else return false;
    return true;
  });
  const full = prefix === '' ? name : `${prefix}.${name}`;
  if (keys.length > 0) out.set(full, keys);
  for (const n of nested) readMessage(n, full, out);
}

/** Entity-key field numbers by fully qualified message name (`com.example.AddLineItem` → [1]); messages without key fields are absent. */
export function entityKeyFields(descriptorSet: Uint8Array): ReadonlyMap<string, readonly number[]> {
  const out = new Map<string, number[]>();
  try {
    walk(descriptorSet, (field, wt, r) => {
      if (field !== 1 || wt !== LEN) return false;
      // FileDescriptorProto: 2 package, 4 message_type
      let pkg = '';
      const messages: Uint8Array[] = [];
      walk(r.bytes(), (f, w, fr) => {
        if (f === 2 && w === LEN) pkg = fr.string();
        else if (f === 4 && w === LEN) messages.push(fr.bytes());
        else return false;
        return true;
      });
      for (const m of messages) readMessage(m, pkg, out);
      return true;
    });
  } catch (err) {
    throw new InvalidDescriptorError(`the user function's descriptors cannot be read for entity keys: ${(err as Error).message}`, { cause: err });
  }
  return out;
}

/** Reads the entity id out of a decoded message: the key fields' values, joined by `-` when there are several. */
export type KeyExtractor = (message: protobuf.Message) => string;

/** The extractor for `type` given its key field numbers (from {@link entityKeyFields}). */
export function keyExtractor(type: protobuf.Type, numbers: readonly number[]): KeyExtractor {
  const names = numbers.map((n) => {
    const f = type.fieldsById[n];
    if (f === undefined) throw new InvalidDescriptorError(`${type.fullName.slice(1)}: entity key field number ${n} is not a field of the message`);
    if (f.repeated || f.map || f.resolvedType instanceof protobuf.Type) throw new InvalidDescriptorError(`${type.fullName.slice(1)}.${f.name}: an entity key must be a scalar field`);
    return f.name;
  });
  const value = (m: protobuf.Message, name: string): string => {
    const v = (m as unknown as Record<string, unknown>)[name];
    if (v === undefined || v === null) return '';
    return String(v); // strings as they are; numbers and Longs in decimal; booleans as true/false
  };
  if (names.length === 1) {
    const only = names[0] as string;
    return (m) => value(m, only);
  }
  return (m) => names.map((n) => value(m, n)).join(ENTITY_KEY_SEPARATOR);
}
