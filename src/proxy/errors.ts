import { BeamstateError } from '../errors.js';

// The proxy's errors, each with a stable code listed in docs/errors.md.

/** `USER_FUNCTION_UNAVAILABLE`: the user function cannot be reached, or its stream ended mid-command. */
export class UserFunctionUnavailableError extends BeamstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('USER_FUNCTION_UNAVAILABLE', message, options);
  }
}

/** `USER_FUNCTION_FAILED`: the user function failed the entity (a stream `failure`: its handler threw, an unknown command). */
export class UserFunctionFailedError extends BeamstateError {
  readonly grpcStatusCode: number;
  constructor(message: string, grpcStatusCode: number) {
    super('USER_FUNCTION_FAILED', message);
    this.grpcStatusCode = grpcStatusCode;
  }
}

/** `PROXY_PROTOCOL_ERROR`: the user function broke the Kalix protocol (a reply for another command, an unknown type URL, a malformed message). */
export class ProxyProtocolError extends BeamstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROXY_PROTOCOL_ERROR', message, options);
  }
}

/** `PROTOCOL_VERSION_MISMATCH`: the user function speaks another major version of the Kalix protocol. */
export class ProtocolVersionMismatchError extends BeamstateError {
  readonly userFunctionVersion: string;
  constructor(userFunctionVersion: string, proxyVersion: string) {
    super('PROTOCOL_VERSION_MISMATCH', `the user function speaks Kalix protocol ${userFunctionVersion}; this proxy speaks ${proxyVersion} (the major versions must match)`);
    this.userFunctionVersion = userFunctionVersion;
  }
}

/** `UNSUPPORTED_COMPONENT`: discovery found a component kind this proxy does not serve (reported to the user function through `ReportError` too). */
export class UnsupportedComponentError extends BeamstateError {
  readonly componentType: string;
  readonly serviceName: string;
  constructor(componentType: string, serviceName: string) {
    super('UNSUPPORTED_COMPONENT', `${serviceName}: component type ${componentType} is not supported by the beamstate proxy yet`);
    this.componentType = componentType;
    this.serviceName = serviceName;
  }
}

/** `INVALID_DESCRIPTOR`: the user function's descriptors (Spec.proto) cannot be read, or a component's service is not in them. */
export class InvalidDescriptorError extends BeamstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_DESCRIPTOR', message, options);
  }
}

/** `MALFORMED_MESSAGE`: a gRPC call's request bytes are not the method's input message (gRPC INVALID_ARGUMENT); nothing reached the user function. */
export class MalformedMessageError extends BeamstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MALFORMED_MESSAGE', message, options);
  }
}

/** `NO_ENTITY_KEY`: a gRPC method of an entity whose input message has no `(kalix.field).entity_key` field, so a call cannot name its entity (gRPC UNIMPLEMENTED; the gateway still serves it). */
export class NoEntityKeyError extends BeamstateError {
  readonly method: string;
  constructor(method: string, inputType: string) {
    super('NO_ENTITY_KEY', `${method} cannot be served over gRPC: its input ${inputType} has no field marked (kalix.field).entity_key = true, so a call does not say which entity it is for`);
    this.method = method;
  }
}

/** `USER_FUNCTION_TIMEOUT`: the user function did not answer a command within `commandTimeoutMs`; its stream was ended (a late answer is never trusted), nothing was persisted. */
export class UserFunctionTimeoutError extends BeamstateError {
  constructor(message: string) {
    super('USER_FUNCTION_TIMEOUT', message);
  }
}

/** `MESSAGE_TOO_LARGE`: a command or a user function's answer is over `maxMessageBytes` (gRPC RESOURCE_EXHAUSTED); nothing was persisted. */
export class MessageTooLargeError extends BeamstateError {
  readonly limit: number;
  constructor(message: string, limit: number, options?: { cause?: unknown }) {
    super('MESSAGE_TOO_LARGE', message, options);
    this.limit = limit;
  }
}
