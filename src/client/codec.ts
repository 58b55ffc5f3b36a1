/**
 * The client's frame codec. Browser-safe (no Buffer): JSON through the platform, msgpack through
 * msgpackr, imported only when a client asks for msgpack so JSON-only bundles stay small. The
 * client trusts its server, so decoding is plain.
 */
import type { FrameFormat, ServerFrame } from '../gateway/protocol.js';

/** @internal */
export interface ClientCodec {
  readonly format: FrameFormat;
  encode(frame: object): string | Uint8Array;
  /** The frame, or undefined if `data` is not a frame of this format. */
  decode(data: unknown): ServerFrame | undefined;
}

const json: ClientCodec = {
  format: 'json',
  encode: (frame) => JSON.stringify(frame),
  decode(data) {
    if (typeof data !== 'string') return undefined;
    const frame: unknown = JSON.parse(data);
    return typeof frame === 'object' && frame !== null ? (frame as ServerFrame) : undefined;
  },
};

/** @internal */
export async function clientCodec(format: FrameFormat): Promise<ClientCodec> {
  if (format === 'json') return json;
  const { Packr } = await import('msgpackr');
  // The protocol's msgpack: plain maps and arrays, undefined as nil, 64-bit integers as numbers.
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, encodeUndefinedAsNil: true, int64AsType: 'number', variableMapSize: true });
  return {
    format,
    encode: (frame) => packr.pack(frame),
    decode(data) {
      let bytes: Uint8Array;
      if (data instanceof Uint8Array) bytes = data;
      else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
      else return undefined;
      const frame: unknown = packr.unpack(bytes);
      return typeof frame === 'object' && frame !== null ? (frame as ServerFrame) : undefined;
    },
  };
}
