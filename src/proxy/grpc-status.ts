import { status as Status } from '@grpc/grpc-js';
import { isBeamstateError } from '../errors.js';

/**
 * The one table from beamstate's error codes to gRPC status codes, for the gRPC front
 * (docs/proxy.md, "Serving over gRPC", lists it). A user function's `ctx.fail(message, status)`
 * keeps its own status; without one it is UNKNOWN, as the Kalix protocol specifies for a
 * `Failure` whose `grpc_status_code` is 0 (kalix/component/component.proto) and as Cloudstate's
 * proxy answered every failure.
 */

/** What a failed call is answered with: the status, its details text and the beamstate code (also sent as the `beamstate-code` trailer). */
export interface GrpcFailure {
  readonly code: Status;
  readonly details: string;
  readonly beamstateCode: string;
}

/** beamstate code → gRPC status, where the code alone decides. */
export const GRPC_STATUS_OF_CODE: Readonly<Record<string, Status>> = {
  // The caller's input: never reached the user function.
  INVALID_COMMAND: Status.INVALID_ARGUMENT,
  INVALID_ENTITY_ID: Status.INVALID_ARGUMENT,
  MALFORMED_MESSAGE: Status.INVALID_ARGUMENT,
  UNKNOWN_COMMAND: Status.UNIMPLEMENTED,
  UNKNOWN_ENTITY_TYPE: Status.UNIMPLEMENTED,
  UNSUPPORTED_EFFECT: Status.UNIMPLEMENTED,
  UNSUPPORTED_COMPONENT: Status.UNIMPLEMENTED,
  NO_ENTITY_KEY: Status.UNIMPLEMENTED,
  UNSUPPORTED_CALL: Status.UNIMPLEMENTED,
  // The user function is down, or its stream broke: nothing was persisted, retrying is safe.
  USER_FUNCTION_UNAVAILABLE: Status.UNAVAILABLE,
  // It did not answer in time (its stream was ended, nothing persisted).
  USER_FUNCTION_TIMEOUT: Status.DEADLINE_EXCEEDED,
  // The user function broke the protocol (reply for another command, unknown type URL): a bug there.
  PROXY_PROTOCOL_ERROR: Status.INTERNAL,
  // The store, or the runtime going away: nothing was applied.
  STORE_UNAVAILABLE: Status.UNAVAILABLE,
  RECOVERY_FAILED: Status.UNAVAILABLE,
  ENTITY_STOPPED: Status.UNAVAILABLE,
  SHUTTING_DOWN: Status.UNAVAILABLE,
  // Another writer got there first.
  ENTITY_CONFLICT: Status.ABORTED,
  // Limits.
  TOO_MANY_ACTIVE_ENTITIES: Status.RESOURCE_EXHAUSTED,
  MAILBOX_FULL: Status.RESOURCE_EXHAUSTED,
  MESSAGE_TOO_LARGE: Status.RESOURCE_EXHAUSTED,
  // Time.
  ASK_TIMEOUT: Status.DEADLINE_EXCEEDED,
  VALIDATION_TIMEOUT: Status.DEADLINE_EXCEEDED,
  ASK_ABORTED: Status.CANCELLED,
  // The front's authenticate hook said no, or failed.
  UNAUTHENTICATED: Status.UNAUTHENTICATED,
  AUTHENTICATION_FAILED: Status.UNAUTHENTICATED,
  // The reply could not be encoded as the method's output message.
  ENCODE_FAILED: Status.INTERNAL,
};

interface Coded {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
  readonly details?: unknown;
  readonly grpcStatusCode?: unknown;
}

/** A status the user function chose (1–16); 0 or anything else is "none given". */
function chosenStatus(value: unknown): Status | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 16 ? (value as Status) : undefined;
}

function codeOf(err: unknown): string | undefined {
  const code = (err as Coded | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The status of a beamstate error (or anything thrown): see {@link GRPC_STATUS_OF_CODE}, plus the cases that look inside. */
export function grpcStatusOf(err: unknown): Status {
  const e = (err ?? {}) as Coded;
  const code = codeOf(err);
  switch (code) {
    case 'COMMAND_FAILED': {
      // The user function's ctx.fail: its own status, else UNKNOWN (the protocol's default).
      // A failure the proxy made itself carries its reason as details.code (UNSUPPORTED_EFFECT, UNSUPPORTED_CALL).
      const details = (e.details ?? {}) as { grpcStatusCode?: unknown; code?: unknown };
      if (typeof details.code === 'string' && Object.hasOwn(GRPC_STATUS_OF_CODE, details.code)) return GRPC_STATUS_OF_CODE[details.code] as Status;
      return chosenStatus(details.grpcStatusCode) ?? Status.UNKNOWN;
    }
    case 'USER_FUNCTION_FAILED':
      // The user function failed the entity (a handler threw): its status if it gave one.
      return chosenStatus(e.grpcStatusCode) ?? Status.UNKNOWN;
    case 'POISON_COMMAND':
      // Crashed the entity on every attempt: the status of the last crash.
      return e.cause === undefined ? Status.UNKNOWN : grpcStatusOf(e.cause);
    case 'PERSIST_FAILED': {
      // Nothing applied; safe to retry, unless the write's outcome is unknown.
      const causeCode = codeOf(e.cause);
      return causeCode !== undefined && causeCode.endsWith('OUTCOME_UNKNOWN') ? Status.UNKNOWN : Status.UNAVAILABLE;
    }
    default:
      return code !== undefined && Object.hasOwn(GRPC_STATUS_OF_CODE, code) ? (GRPC_STATUS_OF_CODE[code] as Status) : Status.INTERNAL;
  }
}

/**
 * How `err` is answered. A beamstate error's message is sent (it is what a gateway client gets
 * too); anything else is INTERNAL with no details, as it may hold the server's internals.
 */
export function grpcFailureOf(err: unknown): GrpcFailure {
  if (!isBeamstateError(err)) return { code: Status.INTERNAL, details: 'internal error', beamstateCode: 'INTERNAL_ERROR' };
  return { code: grpcStatusOf(err), details: err.message, beamstateCode: err.code };
}
