import { Packr } from 'msgpackr';
import { SerializationError } from './errors.js';
import { dataProblem } from './plain-data.js';

/**
 * Turns payloads (events, snapshots, durable state, metadata) into bytes and back. The store
 * keeps the bytes in a `bytea` column and the event's `type` string beside them, so a serializer
 * that needs to know what it is decoding (schema evolution, protobuf) gets the type back.
 *
 * `encode` must return bytes that stay valid after later calls (the store may hold several
 * before writing them).
 */
export interface Serializer {
  /** Encodes a value. Throwing here fails only the call that passed the value. */
  encode(value: unknown): Uint8Array;
  /** Decodes bytes written by `encode`; `type` is the type string stored with them ('' if none). */
  decode(bytes: Uint8Array, type: string): unknown;
}

/**
 * The default serializer: MessagePack through `msgpackr`, standard encoding (no record
 * extension), so the bytes can be read by any MessagePack implementation.
 *
 * It stores data only, and refuses (throws, which the stores report as `SERIALIZATION_FAILED`)
 * what would not come back as it went in: functions, symbols, class instances, Maps, Sets,
 * typed arrays other than `Uint8Array`, strings with lone surrogates, and objects or arrays
 * holding any of them (see plain-data.ts and docs/persistence.md).
 */
export function msgpackSerializer(): Serializer {
  // useRecords: false keeps every value self-contained and standard MessagePack; msgpackr's
  // record extension would make stored bytes depend on structures kept elsewhere.
  const packr = new Packr({ useRecords: false });
  return {
    encode: (value) => {
      const problem = dataProblem(value);
      if (problem !== undefined) throw new TypeError(problem);
      return packr.pack(value);
    },
    decode: (bytes) => packr.unpack(bytes),
  };
}

/**
 * Calls `serializer.encode`, turning whatever it throws into a `SerializationError` that names
 * the value as `what`, or as `events[index].what` when `index` is given (so that an append's
 * hot path builds that name only when it fails).
 */
export function encodeValue(serializer: Serializer, value: unknown, what: string, index?: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = serializer.encode(value);
  } catch (err) {
    throw new SerializationError(`could not encode ${nameOf(what, index)}: ${messageOf(err)}`, { cause: err });
  }
  if (!(bytes instanceof Uint8Array)) {
    throw new SerializationError(`could not encode ${nameOf(what, index)}: the serializer did not return a Uint8Array`);
  }
  return bytes;
}

function nameOf(what: string, index: number | undefined): string {
  return index === undefined ? what : `events[${index}].${what}`;
}

/** Calls `serializer.decode`, turning whatever it throws into a `SerializationError`. */
export function decodeValue(serializer: Serializer, bytes: Uint8Array, type: string, what: string): unknown {
  // pg hands back Buffers, PGlite plain Uint8Arrays; a Buffer view (no copy) makes every backend
  // decode alike (msgpackr returns binary as slices of its input).
  const input = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return serializer.decode(input, type);
  } catch (err) {
    throw new SerializationError(`could not decode ${what}: ${messageOf(err)}`, { cause: err });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
