/**
 * Gateway errors. Each has a stable `code` (the table is in `docs/errors.md`); the ones sent in
 * error frames are what a client sees as `error.code`, the ones that end a connection carry the
 * WebSocket `closeCode`, and the ones that refuse an upgrade carry the HTTP `status`.
 *
 * The client's own errors (`RemoteError`, `REQUEST_TIMEOUT`, …) are in `src/client/errors.ts`.
 */
import { BeamstateError } from '../errors.js';
import type { ValidationIssue } from '../entities/standard-schema.js';
import { CloseCode, type RequestId } from './protocol.js';

/** A request the gateway answers with an error frame. `id` is the request's, when it could be read. Not exported: the base of the error-frame errors, declared for their types. */
export abstract class FrameError extends BeamstateError {
  /** The id of the offending request, or null when it could not be read. */
  id: RequestId | null = null;
}

// ------------------------------------------------------------ error frames (request refused)

/** `MALFORMED_FRAME`: the frame could not be decoded (invalid JSON or msgpack, a binary frame on a JSON connection or a text frame on a msgpack one, a msgpack extension type). */
export class MalformedFrameError extends FrameError {
  constructor(message: string) {
    super('MALFORMED_FRAME', message);
  }
}

/** `INVALID_FRAME`: the frame decoded but is not a valid request (unknown kind, missing or extra field, wrong type, bad id); `issues` say where. */
export class InvalidFrameError extends FrameError {
  readonly issues: readonly ValidationIssue[];
  constructor(issues: readonly ValidationIssue[]) {
    const first = issues[0];
    const where = first !== undefined && first.path.length > 0 ? ` at ${first.path.join('.')}` : '';
    super('INVALID_FRAME', `invalid frame: ${first?.message ?? 'rejected'}${where}`);
    this.issues = issues;
  }
}

/** `UNSAFE_KEY`: an object in the frame has a key `__proto__`, `constructor` or `prototype`. */
export class UnsafeKeyError extends FrameError {
  readonly key: string;
  constructor(key: string) {
    super('UNSAFE_KEY', `frames may not contain the key ${JSON.stringify(key)}`);
    this.key = key;
  }
}

/** `NESTING_TOO_DEEP`: arrays and objects in the frame nest deeper than `limits.maxDepth`. */
export class NestingTooDeepError extends FrameError {
  readonly maxDepth: number;
  constructor(maxDepth: number) {
    super('NESTING_TOO_DEEP', `frames may nest arrays and objects at most ${maxDepth} deep`);
    this.maxDepth = maxDepth;
  }
}

/** `DUPLICATE_ID`: the id is already used by a request in flight or an active subscription on this connection. */
export class DuplicateIdError extends FrameError {
  constructor(id: RequestId) {
    super('DUPLICATE_ID', `id ${JSON.stringify(id)} is in use by a request in flight or a subscription`);
    this.id = id;
  }
}

/** `TOO_MANY_REQUESTS`: the connection already has `limits.maxInFlight` requests in flight; this one was not run. */
export class TooManyRequestsError extends FrameError {
  readonly limit: number;
  constructor(limit: number) {
    super('TOO_MANY_REQUESTS', `at most ${limit} requests may be in flight on one connection`);
    this.limit = limit;
  }
}

/** `TOO_MANY_SUBSCRIPTIONS`: the connection already has `limits.maxSubscriptions` subscriptions. */
export class TooManySubscriptionsError extends FrameError {
  readonly limit: number;
  constructor(limit: number) {
    super('TOO_MANY_SUBSCRIPTIONS', `at most ${limit} subscriptions per connection`);
    this.limit = limit;
  }
}

/** `UNKNOWN_SUBSCRIPTION`: `unsubscribe` named no established subscription of this connection. */
export class UnknownSubscriptionError extends FrameError {
  constructor(subscription: RequestId) {
    super('UNKNOWN_SUBSCRIPTION', `no subscription ${JSON.stringify(subscription)} on this connection`);
  }
}

/** `NOT_SUBSCRIBABLE`: stateless functions have no events or state to watch. */
export class NotSubscribableError extends FrameError {
  constructor(entityType: string) {
    super('NOT_SUBSCRIBABLE', `${entityType} is a stateless function: it has nothing to subscribe to`);
  }
}

/**
 * `CATCH_UP_TOO_LARGE`: a subscription's catch-up (the events replayed from `fromSequenceNr`, and
 * the state) would exceed `limits.sendHighWaterMark` before `subscribed` could be sent. Nothing
 * was subscribed; subscribe from a later sequence number, or read the history in parts.
 */
export class CatchUpTooLargeError extends FrameError {
  constructor(limit: number) {
    super('CATCH_UP_TOO_LARGE', `the subscription's catch-up exceeds the send limit of ${limit} bytes; subscribe from a later sequence number`);
  }
}

/** `FORBIDDEN`: the `authorize` hook refused this command or subscription. */
export class ForbiddenError extends FrameError {
  constructor(what: string) {
    super('FORBIDDEN', `not allowed: ${what}`);
  }
}

/** `SHUTTING_DOWN`: the gateway is closing; as an error frame, the request was not run; as an upgrade answer, HTTP 503. Sockets then close with 1001. */
export class ShuttingDownError extends FrameError {
  readonly closeCode = CloseCode.GOING_AWAY;
  readonly status = 503;
  constructor() {
    super('SHUTTING_DOWN', 'the gateway is shutting down');
  }
}

/** `ENCODE_FAILED`: a reply, error detail or update could not be encoded in the connection's format (a cycle, a BigInt in JSON). */
export class EncodeFailedError extends FrameError {
  constructor(what: string, cause: unknown) {
    super('ENCODE_FAILED', `the ${what} could not be encoded`, { cause });
  }
}

/** `INTERNAL_ERROR`: something unexpected failed on the server; it is logged there. No details are sent. */
export class InternalGatewayError extends FrameError {
  constructor(cause?: unknown) {
    super('INTERNAL_ERROR', 'internal error', { cause });
  }
}

// ------------------------------------------------------------ connection closed by the server

/** `SLOW_CONSUMER`: the client did not read; unsent data exceeded `limits.sendHighWaterMark`. Closes the connection with 4008. */
export class SlowConsumerError extends BeamstateError {
  readonly closeCode = CloseCode.SLOW_CONSUMER;
  readonly bufferedBytes: number;
  constructor(bufferedBytes: number, highWaterMark: number) {
    super('SLOW_CONSUMER', `${bufferedBytes} bytes unsent exceed the high-water mark of ${highWaterMark}`);
    this.bufferedBytes = bufferedBytes;
  }
}

// ------------------------------------------------------------ upgrade refused (HTTP answer, no WebSocket)

/** A refused upgrade: answered with `status` and a JSON body `{ code, message }`. Not exported: the base of the upgrade errors, declared for their types. */
export abstract class UpgradeRejection extends BeamstateError {
  abstract readonly status: number;
}

/** `UNAUTHENTICATED`: the `authenticate` hook returned no principal. HTTP 401. */
export class UnauthenticatedError extends UpgradeRejection {
  readonly status = 401;
  constructor() {
    super('UNAUTHENTICATED', 'authentication required');
  }
}

/** `AUTHENTICATION_FAILED`: the `authenticate` hook threw (logged). HTTP 500. */
export class AuthenticationFailedError extends UpgradeRejection {
  readonly status = 500;
  constructor(cause: unknown) {
    super('AUTHENTICATION_FAILED', 'authentication could not be checked', { cause });
  }
}

/** `AUTHENTICATION_TIMEOUT`: the `authenticate` hook did not decide within `authenticateTimeoutMs` (logged). HTTP 503. */
export class AuthenticationTimeoutError extends UpgradeRejection {
  readonly status = 503;
  constructor(timeoutMs: number) {
    super('AUTHENTICATION_TIMEOUT', `authentication was not decided within ${timeoutMs} ms`);
  }
}

/** `UNSUPPORTED_SUBPROTOCOL`: the client offered none of `beamstate.v1.json`, `beamstate.v1.msgpack`, `beamstate.v1`. HTTP 400. */
export class UnsupportedSubprotocolError extends UpgradeRejection {
  readonly status = 400;
  constructor() {
    super('UNSUPPORTED_SUBPROTOCOL', 'offer one of the subprotocols beamstate.v1.json, beamstate.v1.msgpack, beamstate.v1');
  }
}

/** `TOO_MANY_CONNECTIONS`: the gateway already has `limits.maxConnections` connections. HTTP 503. */
export class TooManyConnectionsError extends UpgradeRejection {
  readonly status = 503;
  constructor(limit: number) {
    super('TOO_MANY_CONNECTIONS', `the gateway serves at most ${limit} connections`);
  }
}

/** `NOT_FOUND`: the upgrade asked for another path than the gateway's `path` (only on a server the gateway owns). HTTP 404. */
export class PathNotFoundError extends UpgradeRejection {
  readonly status = 404;
  constructor() {
    super('NOT_FOUND', 'no WebSocket endpoint at this path');
  }
}

/**
 * `EARLY_DATA_TOO_LARGE`: while an asynchronous `authenticate` hook decided, the client sent more
 * than the gateway keeps for it (64 KiB, counting what came with the upgrade request itself).
 * A client should send nothing before the `101` (RFC 6455 §4.1). HTTP 413.
 */
export class EarlyDataTooLargeError extends UpgradeRejection {
  readonly status = 413;
  readonly limit: number;
  constructor(limit: number) {
    super('EARLY_DATA_TOO_LARGE', `more than ${limit} bytes were sent before the upgrade was answered`);
    this.limit = limit;
  }
}
