// `beamstate/client`: the WebSocket client alone (src/client/), for browsers and other processes that talk to a
// gateway. It pulls in nothing of the server side (no pg, no PGlite, no ws server); in Node the
// `ws` package is loaded only when no global WebSocket exists.
export { connect, GatewayClient, clientDefaults } from './client/client.js';
export type { ConnectOptions, ClientStatus, ClientEntityRef, ClientAskOptions } from './client/client.js';
export type { CommandsOf, EventOf, StateOf, NameOf } from './client/typed.js';
export { ClientSubscription } from './client/subscription.js';
export type { ClientSubscribeOptions } from './client/subscription.js';
export { reconnectDefaults } from './client/backoff.js';
export type { ReconnectOptions } from './client/backoff.js';
export { RemoteError, RequestTimeoutError, RequestAbortedError, ConnectionLostError, ClientClosedError, ConnectFailedError } from './client/errors.js';
// Shared with the server: the protocol's names and the error base class.
export { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK } from './gateway/protocol.js';
export type { FrameFormat, RequestId } from './gateway/protocol.js';
export { BeamstateError, isBeamstateError } from './errors.js';
export type { EntityRef, CommandSpecs, CommandSpec } from './entities/entity-ref.js';
export type { EntityUpdate } from './entities/subscriptions.js';
