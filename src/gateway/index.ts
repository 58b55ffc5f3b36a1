// The public API of the gateway: the server, its protocol, and (re-exported) the client.
export { Gateway, createGateway } from './server.js';
export type { HttpMount } from './server.js';
export { gatewayDefaults } from './options.js';
export type { GatewayOptions, GatewayLimits, HeartbeatOptions } from './options.js';
export { requestToken } from './auth.js';
export type { Authenticate, Authorize, AuthorizeRequest } from './auth.js';
export { requestFrameSchemas } from './frames.js';
// OpenTelemetry spans (src/tracing): the option's types and the W3C traceparent helpers (no @opentelemetry/api needed).
export type { TracingOption, TracerProviderLike } from '../tracing/options.js';
export { parseTraceParent, formatTraceParent, MAX_TRACEPARENT_LENGTH, MAX_TRACESTATE_LENGTH } from '../tracing/traceparent.js';
export type { TraceParent } from '../tracing/traceparent.js';
// The client lives in src/client/ (browser-safe, also the `beamstate/client` entry); `beamstate` exports it too.
export { connect, GatewayClient, clientDefaults } from '../client/client.js';
export type { ConnectOptions, ClientStatus, ClientEntityRef, ClientAskOptions } from '../client/client.js';
export type { CommandsOf, EventOf, StateOf, NameOf } from '../client/typed.js';
export { ClientSubscription } from '../client/subscription.js';
export type { ClientSubscribeOptions } from '../client/subscription.js';
export { reconnectDefaults } from '../client/backoff.js';
export type { ReconnectOptions } from '../client/backoff.js';
export { RemoteError, RequestTimeoutError, RequestAbortedError, ConnectionLostError, ClientClosedError, ConnectFailedError } from '../client/errors.js';
export { CloseCode, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, SUBPROTOCOL_BARE, AUTH_SUBPROTOCOL_PREFIX } from './protocol.js';
export type {
  FrameFormat,
  RequestId,
  EntityAddress,
  RequestFrame,
  CommandFrame,
  SubscribeFrame,
  UnsubscribeFrame,
  PingFrame,
  ServerFrame,
  ReplyFrame,
  ErrorFrame,
  SubscribedFrame,
  UnsubscribedFrame,
  PongFrame,
  UpdateFrame,
  WireError,
} from './protocol.js';
export {
  MalformedFrameError,
  InvalidFrameError,
  UnsafeKeyError,
  NestingTooDeepError,
  DuplicateIdError,
  TooManyRequestsError,
  TooManySubscriptionsError,
  UnknownSubscriptionError,
  NotSubscribableError,
  CatchUpTooLargeError,
  ForbiddenError,
  ShuttingDownError,
  EncodeFailedError,
  InternalGatewayError,
  SlowConsumerError,
  UnauthenticatedError,
  AuthenticationFailedError,
  AuthenticationTimeoutError,
  UnsupportedSubprotocolError,
  TooManyConnectionsError,
  PathNotFoundError,
  EarlyDataTooLargeError,
} from './errors.js';
