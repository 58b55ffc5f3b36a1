/**
 * Frame codecs of the server: decoding (with every hostile-input check) and encoding of the
 * frames the server sends. The JSON encoder writes each frame as one string concatenation
 * around `JSON.stringify` of the payload alone, so a reply costs one stringify and no frame
 * object; the msgpack encoder fills reused frame objects.
 */
import { type Options as MsgpackOptions, Packr, Unpackr } from 'msgpackr';
import { EncodeFailedError, FrameError, MalformedFrameError } from './errors.js';
import { scanMsgpack } from './msgpack-scan.js';
import type { FrameFormat, RequestId, WireError } from './protocol.js';
import { checkValue } from './safe-value.js';
import { idOf } from './validate.js';

/** @internal */
export interface ServerCodec {
  readonly format: FrameFormat;
  /** Decodes one message into a value that is safe to inspect; throws a `FrameError`. */
  decode(data: Buffer, isBinary: boolean): unknown;
  /** Throws `ENCODE_FAILED` if `result` cannot be encoded. */
  reply(id: RequestId, result: unknown): string | Buffer;
  /** Never throws: undecodable `details` are dropped. */
  error(id: RequestId | null, error: WireError): string | Buffer;
  subscribed(id: RequestId, version: number): string | Buffer;
  unsubscribed(id: RequestId): string | Buffer;
  pong(id: RequestId): string | Buffer;
  /** Throws `ENCODE_FAILED`. */
  event(subscription: RequestId, sequenceNr: number, event: unknown): string | Buffer;
  /** Throws `ENCODE_FAILED`. */
  state(subscription: RequestId, version: number, state: unknown): string | Buffer;
}

function jsonId(id: RequestId): string {
  return typeof id === 'number' ? String(id) : JSON.stringify(id);
}

function stringify(value: unknown, what: string): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(value);
  } catch (err) {
    throw new EncodeFailedError(what, err);
  }
  // undefined, a function or a symbol: JSON has no such value; the protocol says null.
  return s === undefined ? 'null' : s;
}

/** @internal */
export function jsonCodec(maxDepth: number): ServerCodec {
  return {
    format: 'json',
    decode(data, isBinary) {
      if (isBinary) throw new MalformedFrameError('binary frames are not accepted on beamstate.v1.json');
      let value: unknown;
      try {
        value = JSON.parse(data.toString('utf8'));
      } catch {
        throw new MalformedFrameError('invalid JSON');
      }
      if (typeof value === 'object' && value !== null) {
        try {
          checkValue(value, 1, maxDepth);
        } catch (err) {
          if (err instanceof FrameError) err.id = idOf(value);
          throw err;
        }
      }
      return value;
    },
    reply: (id, result) => `{"kind":"reply","id":${jsonId(id)},"result":${stringify(result, 'reply')}}`,
    error(id, error) {
      try {
        return JSON.stringify({ kind: 'error', id, error });
      } catch {
        return JSON.stringify({ kind: 'error', id, error: { code: error.code, message: error.message } });
      }
    },
    subscribed: (id, version) => `{"kind":"subscribed","id":${jsonId(id)},"version":${version}}`,
    unsubscribed: (id) => `{"kind":"unsubscribed","id":${jsonId(id)}}`,
    pong: (id) => `{"kind":"pong","id":${jsonId(id)}}`,
    event: (sub, seq, event) => `{"kind":"update","subscription":${jsonId(sub)},"change":"event","sequenceNr":${seq},"event":${stringify(event, 'event')}}`,
    state: (sub, version, state) => `{"kind":"update","subscription":${jsonId(sub)},"change":"state","version":${version},"state":${stringify(state, 'state')}}`,
  };
}

/** msgpack as the protocol uses it: plain maps and arrays, undefined as nil, 64-bit integers as numbers. @internal */
export function msgpackOptions(): MsgpackOptions {
  return { useRecords: false, mapsAsObjects: true, encodeUndefinedAsNil: true, int64AsType: 'number', variableMapSize: true };
}

/** @internal */
export function msgpackCodec(maxDepth: number): ServerCodec {
  const packr = new Packr(msgpackOptions());
  const unpackr = new Unpackr(msgpackOptions());
  // Reused frame objects: filled, packed, and emptied so they hold no payload afterwards.
  const reply = { kind: 'reply', id: 0 as RequestId, result: null as unknown };
  const idOnly = { kind: '', id: 0 as RequestId };
  const subscribed = { kind: 'subscribed', id: 0 as RequestId, version: 0 };
  const event = { kind: 'update', subscription: 0 as RequestId, change: 'event', sequenceNr: 0, event: null as unknown };
  const state = { kind: 'update', subscription: 0 as RequestId, change: 'state', version: 0, state: null as unknown };
  const pack = (frame: object, what: string): Buffer => {
    try {
      return packr.pack(frame);
    } catch (err) {
      throw new EncodeFailedError(what, err);
    }
  };
  return {
    format: 'msgpack',
    decode(data, isBinary) {
      if (!isBinary) throw new MalformedFrameError('text frames are not accepted on beamstate.v1.msgpack');
      scanMsgpack(data, maxDepth);
      try {
        return unpackr.unpack(data);
      } catch {
        throw new MalformedFrameError('invalid msgpack');
      }
    },
    reply(id, result) {
      reply.id = id;
      reply.result = result === undefined ? null : result;
      try {
        return pack(reply, 'reply');
      } finally {
        reply.result = null;
      }
    },
    error(id, error) {
      try {
        return packr.pack({ kind: 'error', id, error });
      } catch {
        return packr.pack({ kind: 'error', id, error: { code: error.code, message: error.message } });
      }
    },
    subscribed(id, version) {
      subscribed.id = id;
      subscribed.version = version;
      return packr.pack(subscribed);
    },
    unsubscribed(id) {
      idOnly.kind = 'unsubscribed';
      idOnly.id = id;
      return packr.pack(idOnly);
    },
    pong(id) {
      idOnly.kind = 'pong';
      idOnly.id = id;
      return packr.pack(idOnly);
    },
    event(sub, seq, payload) {
      event.subscription = sub;
      event.sequenceNr = seq;
      event.event = payload;
      try {
        return pack(event, 'event');
      } finally {
        event.event = null;
      }
    },
    state(sub, version, payload) {
      state.subscription = sub;
      state.version = version;
      state.state = payload;
      try {
        return pack(state, 'state');
      } finally {
        state.state = null;
      }
    },
  };
}

/** @internal */
export function codecFor(format: FrameFormat, maxDepth: number): ServerCodec {
  return format === 'json' ? jsonCodec(maxDepth) : msgpackCodec(maxDepth);
}
