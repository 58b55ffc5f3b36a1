// The public API of `beamstate/proxy`: the Kalix-protocol proxy. Only this subpath loads gRPC.
export { startProxy, KalixProxy, proxyDefaults } from './proxy.js';
export type { ProxyOptions } from './proxy.js';
export { ComponentType, SUPPORTED_COMPONENT_TYPES } from './discovery.js';
export type { Discovered, DiscoveredComponent, ServiceInfo, ProxyIdentity } from './discovery.js';
export { PROTOCOL_MAJOR_VERSION, PROTOCOL_MINOR_VERSION } from './protocol.js';
export type { AnyMessage } from './protocol.js';
export type { KalixState } from './journal-state.js';
export {
  UserFunctionUnavailableError,
  UserFunctionFailedError,
  ProxyProtocolError,
  ProtocolVersionMismatchError,
  UnsupportedComponentError,
  InvalidDescriptorError,
} from './errors.js';
