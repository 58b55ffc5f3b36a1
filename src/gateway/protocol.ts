/**
 * The wire protocol `beamstate.v1`: subprotocol names, close codes and the shapes of frames.
 * `docs/protocol.md` is the specification; this file is its TypeScript mirror. It imports
 * nothing at run time, so the browser client can share it.
 */
import type { ValidationIssue } from '../entities/standard-schema.js';

/** JSON text frames. Offered by clients as `beamstate.v1.json`; plain `beamstate.v1` means the same. */
export const SUBPROTOCOL_JSON = 'beamstate.v1.json';
/** msgpack binary frames. */
export const SUBPROTOCOL_MSGPACK = 'beamstate.v1.msgpack';
/** Accepted as an alias of {@link SUBPROTOCOL_JSON}. */
export const SUBPROTOCOL_BARE = 'beamstate.v1';
/**
 * Browsers cannot set headers on a WebSocket: a client may offer `beamstate.auth.<token>` as an
 * extra subprotocol, the token base64url-encoded (RFC 4648 §5, no padding). The server never
 * selects it.
 */
export const AUTH_SUBPROTOCOL_PREFIX = 'beamstate.auth.';

/** Frame formats, by the name clients use. */
export type FrameFormat = 'json' | 'msgpack';

/** WebSocket close codes the gateway uses (RFC 6455 §7.4 and the private 4000–4999 range). */
export const CloseCode = {
  /** The gateway is shutting down (graceful close); reconnect later. */
  GOING_AWAY: 1001,
  /** A frame broke the WebSocket protocol itself (sent by `ws`). */
  PROTOCOL_ERROR: 1002,
  /** A text frame was not valid UTF-8 (sent by `ws`). */
  INVALID_PAYLOAD: 1007,
  /** A message was larger than `limits.maxPayload` (sent by `ws`). */
  MESSAGE_TOO_BIG: 1009,
  /** The client did not read its frames: unsent data exceeded `limits.sendHighWaterMark`. */
  SLOW_CONSUMER: 4008,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** A request id: a string of 1–128 characters or an integer from 0 to 2^53 − 1, chosen by the client. */
export type RequestId = string | number;

/** Longest string id. */
export const MAX_ID_LENGTH = 128;
/** Longest entity type name (entity type names are at most 64 characters). */
export const MAX_TYPE_LENGTH = 64;
/** Longest command name. */
export const MAX_COMMAND_LENGTH = 128;

/** `(type, id)`: which entity. */
export interface EntityAddress {
  readonly type: string;
  readonly id: string;
}

/** Sends a command to an entity; answered by `reply` or `error`. */
export interface CommandFrame {
  readonly kind: 'command';
  readonly id: RequestId;
  readonly entity: EntityAddress;
  readonly command: string;
  /** Omitted for commands that take no input. */
  readonly input?: unknown;
  /**
   * `true`: the client will not look at the answer (`client.tell`), so the server logs a failure
   * at `warn`, as an in-process tell's. The command is answered as any other.
   */
  readonly tell?: boolean;
  /**
   * W3C Trace Context `traceparent` of the client's span (at most 256 characters): a tracing
   * gateway makes its server span a child of it. A string that is not a valid traceparent is
   * ignored (a new trace starts), as W3C Trace Context asks of a receiver.
   */
  readonly traceparent?: string;
  /** W3C `tracestate` going with `traceparent` (at most 512 characters). */
  readonly tracestate?: string;
}

/** Watches an entity; answered by `subscribed` (then `update` frames) or `error`. */
export interface SubscribeFrame {
  readonly kind: 'subscribe';
  readonly id: RequestId;
  readonly entity: EntityAddress;
  readonly events?: boolean;
  readonly state?: boolean;
  /** With `events`: replay persisted events from this sequence number first. */
  readonly fromSequenceNr?: number;
}

/** Ends a subscription; answered by `unsubscribed` or `error`. */
export interface UnsubscribeFrame {
  readonly kind: 'unsubscribe';
  readonly id: RequestId;
  /** The id of the `subscribe` request. */
  readonly subscription: RequestId;
}

/** Application-level liveness check; answered by `pong`. */
export interface PingFrame {
  readonly kind: 'ping';
  readonly id: RequestId;
}

/** Every frame a client may send. */
export type RequestFrame = CommandFrame | SubscribeFrame | UnsubscribeFrame | PingFrame;

/** An error as it travels: a stable code, a human message, and for some codes more detail. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  /** `INVALID_COMMAND`, `INVALID_FRAME`: what was wrong and where. */
  readonly issues?: readonly ValidationIssue[];
  /** `COMMAND_FAILED`: the `details` the handler gave `ctx.fail`. */
  readonly details?: unknown;
}

export interface ReplyFrame {
  readonly kind: 'reply';
  readonly id: RequestId;
  /** The command's reply; `null` when the handler replied nothing. */
  readonly result: unknown;
}

export interface ErrorFrame {
  readonly kind: 'error';
  /** The request's id, or `null` when the frame could not be read far enough to find one. */
  readonly id: RequestId | null;
  readonly error: WireError;
}

export interface SubscribedFrame {
  readonly kind: 'subscribed';
  readonly id: RequestId;
  /** The entity's version (sequence number or revision) when the subscription was established. */
  readonly version: number;
}

export interface UnsubscribedFrame {
  readonly kind: 'unsubscribed';
  readonly id: RequestId;
}

export interface PongFrame {
  readonly kind: 'pong';
  readonly id: RequestId;
}

export type UpdateFrame =
  | { readonly kind: 'update'; readonly subscription: RequestId; readonly change: 'event'; readonly sequenceNr: number; readonly event: unknown }
  | { readonly kind: 'update'; readonly subscription: RequestId; readonly change: 'state'; readonly version: number; readonly state: unknown };

/** Every frame the server sends. Clients must ignore fields they do not know. */
export type ServerFrame = ReplyFrame | ErrorFrame | SubscribedFrame | UnsubscribedFrame | PongFrame | UpdateFrame;
