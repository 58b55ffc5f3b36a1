/**
 * The client's errors: how a request of a {@link GatewayClient} fails. Each has a stable `code`
 * (the table is in `docs/errors.md`). Shared by Node and browsers: imports nothing from Node.
 */
import { BeamstateError } from '../errors.js';
import type { ValidationIssue } from '../entities/standard-schema.js';

/** An error frame from the server, as the client rejects with it: `code` is the server's (`COMMAND_FAILED`, `INVALID_COMMAND`, `FORBIDDEN`, …). */
export class RemoteError extends BeamstateError {
  readonly issues?: readonly ValidationIssue[];
  readonly details?: unknown;
  constructor(code: string, message: string, issues?: readonly ValidationIssue[], details?: unknown) {
    super(code, message);
    if (issues !== undefined) this.issues = issues;
    if (details !== undefined) this.details = details;
  }
}

/** `REQUEST_TIMEOUT`: no answer within the request's timeout. The command may still run on the server. */
export class RequestTimeoutError extends BeamstateError {
  readonly timeout: number;
  constructor(timeout: number) {
    super('REQUEST_TIMEOUT', `no answer within ${timeout} ms`);
    this.timeout = timeout;
  }
}

/** `REQUEST_ABORTED`: the request's `AbortSignal` fired. The command may still run on the server. */
export class RequestAbortedError extends BeamstateError {
  constructor(cause: unknown) {
    super('REQUEST_ABORTED', 'the request was aborted', { cause });
  }
}

/**
 * `CONNECTION_LOST`: the connection closed while the request was in flight. The command may or may
 * not have run; it is never retried, because commands are not idempotent.
 */
export class ConnectionLostError extends BeamstateError {
  readonly closeCode: number;
  readonly reason: string;
  constructor(closeCode: number, reason: string) {
    super('CONNECTION_LOST', `the connection closed (${closeCode}${reason === '' ? '' : ` ${reason}`}) while the request was in flight`);
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/** `CLIENT_CLOSED`: the client was closed (or gave up reconnecting); the request was not sent or not answered. */
export class ClientClosedError extends BeamstateError {
  constructor(cause?: unknown) {
    super('CLIENT_CLOSED', 'the client is closed', cause === undefined ? undefined : { cause });
  }
}

/** `CONNECT_FAILED`: the WebSocket could not be opened; `status` is the HTTP status when the server refused the upgrade (known in Node only). */
export class ConnectFailedError extends BeamstateError {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, cause?: unknown) {
    super('CONNECT_FAILED', message, cause === undefined ? undefined : { cause });
    this.status = status;
  }
}
