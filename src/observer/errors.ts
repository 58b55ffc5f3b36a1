import { BeamstateError } from '../errors.js';

/**
 * What the observer answers on its channel when a frame cannot be served. Each has a stable
 * `code` (docs/errors.md); none of them changes anything in the observed system.
 */
export class ObserverError extends BeamstateError {}

/** `OBSERVER_BAD_FRAME`: not JSON, not an object, an unknown `op`, or a member of the wrong type or size. */
export class ObserverBadFrameError extends ObserverError {
  constructor(detail: string) {
    super('OBSERVER_BAD_FRAME', `bad observer frame: ${detail}`);
  }
}

/** `OBSERVER_NOT_FOUND`: no live actor, supervisor child, entity type or entity by that id. */
export class ObserverNotFoundError extends ObserverError {
  constructor(what: string) {
    super('OBSERVER_NOT_FOUND', `${what} not found`);
  }
}

/** `OBSERVER_ACTIONS_DISABLED`: the observer was started without `actions: true`. */
export class ObserverActionsDisabledError extends ObserverError {
  constructor() {
    super('OBSERVER_ACTIONS_DISABLED', 'actions are disabled on this observer (start it with actions: true)');
  }
}

/** `OBSERVER_FORBIDDEN`: `authorizeAction` said no, threw, or is not set (actions need it). */
export class ObserverForbiddenError extends ObserverError {
  constructor(action: string) {
    super('OBSERVER_FORBIDDEN', `not allowed: ${action}`);
  }
}

/** `OBSERVER_BUSY`: too many requests in flight on one connection (entity look-ups read the store). */
export class ObserverBusyError extends ObserverError {
  constructor(limit: number) {
    super('OBSERVER_BUSY', `more than ${limit} requests in flight on this observer connection`);
  }
}

/** `OBSERVER_BAD_QUERY`: a query parameter of an observer URL (`/metrics`, the page) is not one it takes. */
export class ObserverBadQueryError extends ObserverError {
  constructor(detail: string) {
    super('OBSERVER_BAD_QUERY', `bad query: ${detail}`);
  }
}
