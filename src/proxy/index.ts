// The public API of `beamstate/proxy`: the Kalix-protocol proxy. Only this subpath loads gRPC.
export { startProxy, KalixProxy, proxyDefaults } from './proxy.js';
export type { ProxyOptions } from './proxy.js';
export { ComponentType, SUPPORTED_COMPONENT_TYPES } from './discovery.js';
export type { Discovered, DiscoveredComponent, ServiceInfo, ProxyIdentity } from './discovery.js';
export { PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION } from './protocol.js';
export type { AnyMessage } from './protocol.js';
export type { KalixState, KalixJournalEvent } from './journal-state.js';
// Value entities' stored state (the user function's Any, untouched) in the durable-state store.
export type { KalixValueState } from './value-entity-state.js';
export {
  UserFunctionUnavailableError,
  UserFunctionFailedError,
  ProxyProtocolError,
  ProtocolVersionMismatchError,
  UnsupportedComponentError,
  InvalidDescriptorError,
  UserFunctionTimeoutError,
  MessageTooLargeError,
} from './errors.js';
// The gRPC front: the user function's own services served over gRPC.
export { startGrpcFront, GrpcFront, grpcFrontDefaults, bearerTokenOf } from './grpc-front.js';
export type { GrpcFrontOptions } from './grpc-front.js';
export { grpcStatusOf, grpcFailureOf, GRPC_STATUS_OF_CODE } from './grpc-status.js';
export type { GrpcFailure } from './grpc-status.js';
export { ENTITY_KEY_SEPARATOR } from './entity-key.js';
export { MalformedMessageError, NoEntityKeyError } from './errors.js';
