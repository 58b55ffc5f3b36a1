// `beamstate/client`: the WebSocket client alone, for browsers and other processes that talk to a
// gateway. It pulls in nothing of the server side (no pg, no PGlite, no ws server); in Node the
// `ws` package is loaded only when no global WebSocket exists.
export { connect, GatewayClient, clientDefaults } from './gateway/client.js';
export type { ConnectOptions, ClientStatus, ClientEntityRef, CommandsOf } from './gateway/client.js';
export { ClientSubscription } from './gateway/client-subscription.js';
export type { ClientSubscribeOptions } from './gateway/client-subscription.js';
export { reconnectDefaults } from './gateway/backoff.js';
export type { ReconnectOptions } from './gateway/backoff.js';
export { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from './gateway/protocol.js';
export type { FrameFormat, RequestId } from './gateway/protocol.js';
export { RemoteError, RequestTimeoutError, RequestAbortedError, ConnectionLostError, ClientClosedError, ConnectFailedError } from './gateway/errors.js';
export { BeamstateError, isBeamstateError } from './errors.js';
export type { EntityRef, CommandSpecs, CommandSpec } from './entities/entity-ref.js';
export type { EntityUpdate } from './entities/subscriptions.js';
