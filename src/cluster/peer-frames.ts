import { Packr, Unpackr } from 'msgpackr';
import { msgpackOptions } from '../gateway/codec.js';

/**
 * Node-to-node frames, msgpack with the gateway's options, as positional arrays (the hot path
 * of a forwarded command packs five small values, no keys).
 *
 * - command: `[0, id, type, entityId, command, input, timeoutMs, wantReply]`, input wrapped as
 *   `[value]`, or `[]` for none (msgpack has no undefined: it would arrive as null, which a
 *   command without input refuses); a traced command has a 9th element, its W3C `traceparent`
 * - reply:   `[1, id, value]`
 * - failure: `[2, id, code, message, owner, epoch]` (owner/epoch: with `NOT_SHARD_OWNER`)
 */
export const COMMAND = 0;
export const REPLY = 1;
export const FAILURE = 2;
/** Subscriptions: subscribe `[4, id, type, entityId, events, state, fromSequenceNr (0: none)]`, answered by a reply (established) or a failure. */
export const SUBSCRIBE = 4;
/** An update of subscription `id`: `[5, id, 'event' | 'state', sequenceNr or version, value]`. */
export const UPDATE = 5;
/** The owner ended subscription `id` (the entity left it, or it stops): `[6, id, code, message]`. */
export const END = 6;
/** The subscriber ends subscription `id`: `[7, id]`. */
export const UNSUBSCRIBE = 7;
/** Several frames sent in one turn, in one message: `[3, [frame, frame, …]]` (each as encoded alone). */
export const BATCH = 3;

export type PeerCommand = [typeof COMMAND, number, string, string, string, unknown, number, boolean] | [typeof COMMAND, number, string, string, string, unknown, number, boolean, string];
export type PeerReply = [typeof REPLY, number, unknown];
export type PeerFailure = [typeof FAILURE, number, string, string, string | null, number];
export type PeerSubscribe = [typeof SUBSCRIBE, number, string, string, boolean, boolean, number];
export type PeerUpdate = [typeof UPDATE, number, 'event' | 'state', number, unknown];
export type PeerEnd = [typeof END, number, string, string];
export type PeerUnsubscribe = [typeof UNSUBSCRIBE, number];
export type PeerFrame = PeerCommand | PeerReply | PeerFailure | PeerSubscribe | PeerUpdate | PeerEnd | PeerUnsubscribe;

const packr = new Packr(msgpackOptions());
const unpackr = new Unpackr(msgpackOptions());

export function encodeFrame(frame: PeerFrame): Buffer {
  return packr.pack(wire(frame));
}

/** Several frames as one message (one WebSocket frame, one write). */
export function encodeBatch(frames: readonly PeerFrame[]): Buffer {
  return packr.pack([BATCH, frames.map(wire)]);
}

function wire(frame: PeerFrame): unknown[] {
  if (frame[0] === COMMAND) {
    const input = frame[5];
    const wired = [COMMAND, frame[1], frame[2], frame[3], frame[4], input === undefined ? [] : [input], frame[6], frame[7]];
    if (frame.length === 9) wired.push(frame[8]);
    return wired;
  }
  return frame;
}

/** The frames of one message: one, or a batch's; malformed ones are left out. */
export function decodeMessage(data: Buffer): PeerFrame[] {
  let v: unknown;
  try {
    v = unpackr.unpack(data);
  } catch {
    return [];
  }
  if (Array.isArray(v) && v[0] === BATCH && v.length === 2 && Array.isArray(v[1])) {
    const out: PeerFrame[] = [];
    for (const f of v[1] as unknown[]) {
      const d = check(f);
      if (d !== undefined) out.push(d);
    }
    return out;
  }
  const d = check(v);
  return d === undefined ? [] : [d];
}

/**
 * Frames queued in one turn go out together, after it (a microtask), as one message: under load
 * many commands share a write and a WebSocket frame; a lone one waits for nothing.
 */
export class FrameQueue {
  #queued: PeerFrame[] = [];
  #scheduled = false;

  /** `replace`: what to send instead of a frame that cannot be encoded (else it is dropped). */
  constructor(
    private readonly send: (data: Buffer) => void,
    private readonly replace?: (frame: PeerFrame, err: Error) => PeerFrame,
  ) {}

  push(frame: PeerFrame): void {
    this.#queued.push(frame);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.flush());
  }

  flush(): void {
    this.#scheduled = false;
    const q = this.#queued;
    if (q.length === 0) return;
    this.#queued = [];
    let data: Buffer;
    try {
      data = q.length === 1 ? encodeFrame(q[0] as PeerFrame) : encodeBatch(q);
    } catch {
      // One frame cannot be encoded (a reply msgpack cannot hold): it alone fails, not its batch.
      const ok: PeerFrame[] = [];
      for (const f of q) {
        try {
          encodeFrame(f);
          ok.push(f);
        } catch (err) {
          if (this.replace !== undefined) ok.push(this.replace(f, err as Error));
        }
      }
      if (ok.length === 0) return;
      data = encodeBatch(ok);
    }
    this.send(data);
  }
}

/** A frame, or undefined for anything else (a peer is trusted, but a bad frame must not crash). */
export function decodeFrame(data: Buffer): PeerFrame | undefined {
  let v: unknown;
  try {
    v = unpackr.unpack(data);
  } catch {
    return undefined;
  }
  return check(v);
}

function check(v: unknown): PeerFrame | undefined {
  if (!Array.isArray(v) || typeof v[1] !== 'number') return undefined;
  if (v[0] === COMMAND && (v.length === 8 || (v.length === 9 && typeof v[8] === 'string')) && typeof v[2] === 'string' && typeof v[3] === 'string' && typeof v[4] === 'string' && Array.isArray(v[5])) {
    v[5] = v[5].length === 0 ? undefined : v[5][0];
    return v as PeerCommand;
  }
  if (v[0] === REPLY && v.length === 3) return v as PeerReply;
  if (v[0] === FAILURE && v.length === 6 && typeof v[2] === 'string') return v as PeerFailure;
  if (v[0] === SUBSCRIBE && v.length === 7 && typeof v[2] === 'string' && typeof v[3] === 'string' && typeof v[6] === 'number') return v as PeerSubscribe;
  if (v[0] === UPDATE && v.length === 5 && (v[2] === 'event' || v[2] === 'state') && typeof v[3] === 'number') return v as PeerUpdate;
  if (v[0] === END && v.length === 4 && typeof v[2] === 'string') return v as PeerEnd;
  if (v[0] === UNSUBSCRIBE && v.length === 2) return v as PeerUnsubscribe;
  return undefined;
}
