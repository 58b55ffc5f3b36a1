// The public API of the observer (`beamstate/observer`): kept out of the main entry so that an
// application that does not observe loads none of it (nor prom-client).
export { Observer, createObserver } from './observer.js';
export { observerDefaults } from './options.js';
export type { ObserverOptions, ObserverActionRequest } from './options.js';
export { METRIC_NAMES } from './metrics.js';
export { OBSERVER_SUBPROTOCOL, PROCESS_SORT_KEYS, ACTIONS } from './protocol.js';
export type {
  ClientFrame,
  ServerFrame,
  Update,
  Overview,
  TreeNode,
  ProcessRow,
  ProcessDetail,
  ProcessQuery,
  ProcessSortKey,
  EntityTypeRow,
  EntityDetail,
  JournalPanel,
  GatewayPanel,
  ObserverAction,
  WireError,
} from './protocol.js';
export {
  ObserverError,
  ObserverBadFrameError,
  ObserverNotFoundError,
  ObserverActionsDisabledError,
  ObserverForbiddenError,
  ObserverBusyError,
  ObserverBadQueryError,
} from './errors.js';
