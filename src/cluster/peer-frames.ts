import { Packr, Unpackr } from 'msgpackr';
import { msgpackOptions } from '../gateway/codec.js';

/**
 * Node-to-node frames, msgpack with the gateway's options, as positional arrays (the hot path
 * of a forwarded command packs five small values, no keys).
 *
 * - command: `[0, id, type, entityId, command, input, timeoutMs, wantReply]`, input wrapped as
 *   `[value]`, or `[]` for none (msgpack has no undefined: it would arrive as null, which a
 *   command without input refuses)
 * - reply:   `[1, id, value]`
 * - failure: `[2, id, code, message, owner, epoch]` (owner/epoch: with `NOT_SHARD_OWNER`)
 */
export const COMMAND = 0;
export const REPLY = 1;
export const FAILURE = 2;

export type PeerCommand = [typeof COMMAND, number, string, string, string, unknown, number, boolean];
export type PeerReply = [typeof REPLY, number, unknown];
export type PeerFailure = [typeof FAILURE, number, string, string, string | null, number];
export type PeerFrame = PeerCommand | PeerReply | PeerFailure;

const packr = new Packr(msgpackOptions());
const unpackr = new Unpackr(msgpackOptions());

export function encodeFrame(frame: PeerFrame): Buffer {
  if (frame[0] === COMMAND) {
    const input = frame[5];
    return packr.pack([COMMAND, frame[1], frame[2], frame[3], frame[4], input === undefined ? [] : [input], frame[6], frame[7]]);
  }
  return packr.pack(frame);
}

/** A frame, or undefined for anything else (a peer is trusted, but a bad frame must not crash). */
export function decodeFrame(data: Buffer): PeerFrame | undefined {
  let v: unknown;
  try {
    v = unpackr.unpack(data);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || typeof v[1] !== 'number') return undefined;
  if (v[0] === COMMAND && v.length === 8 && typeof v[2] === 'string' && typeof v[3] === 'string' && typeof v[4] === 'string' && Array.isArray(v[5])) {
    v[5] = v[5].length === 0 ? undefined : v[5][0];
    return v as PeerCommand;
  }
  if (v[0] === REPLY && v.length === 3) return v as PeerReply;
  if (v[0] === FAILURE && v.length === 6 && typeof v[2] === 'string') return v as PeerFailure;
  return undefined;
}
