import { BeamstateError, isBeamstateError } from '../errors.js';
import type { ValidationIssue } from './standard-schema.js';

/** `COMMAND_FAILED`: the handler answered with `ctx.fail(message)`; nothing was persisted and the entity lives on. */
export class CommandFailedError extends BeamstateError {
  readonly details: unknown;
  constructor(message: string, details?: unknown) {
    super('COMMAND_FAILED', message);
    this.details = details;
  }
}

/** `INVALID_COMMAND`: the input did not pass the command's schema; `issues` say why. The handler never saw it. */
export class InvalidCommandError extends BeamstateError {
  readonly issues: readonly ValidationIssue[];
  constructor(entityType: string, command: string, issues: readonly ValidationIssue[]) {
    const first = issues[0];
    const where = first !== undefined && first.path.length > 0 ? ` at ${first.path.join('.')}` : '';
    super('INVALID_COMMAND', `invalid input for ${entityType}.${command}: ${first?.message ?? 'rejected'}${where}`);
    this.issues = issues;
  }
}

/** `UNKNOWN_COMMAND`: the entity type has no command of that name. */
export class UnknownCommandError extends BeamstateError {
  constructor(entityType: string, command: string) {
    super('UNKNOWN_COMMAND', `entity type ${JSON.stringify(entityType)} has no command ${JSON.stringify(command)}`);
  }
}

/** `UNKNOWN_ENTITY_TYPE`: no entity type or stateless function is registered under that name. */
export class UnknownEntityTypeError extends BeamstateError {
  constructor(entityType: string) {
    super('UNKNOWN_ENTITY_TYPE', `no entity type ${JSON.stringify(entityType)} is registered`);
  }
}

/**
 * `INVALID_ENTITY_ID`: entity ids are non-empty strings of at most 512 UTF-16 code units, with no
 * NUL character and no lone surrogate (text the stores hold exactly); `reason` says which rule failed.
 */
export class InvalidEntityIdError extends BeamstateError {
  constructor(id: unknown, reason?: string) {
    super(
      'INVALID_ENTITY_ID',
      `entity ids are non-empty strings of at most 512 UTF-16 code units, with no NUL and no lone surrogates${reason === undefined ? '' : ` (this one ${reason})`}; got ${typeof id === 'string' ? JSON.stringify(id.slice(0, 40)) : typeof id}`,
    );
  }
}

/** `POISON_COMMAND`: the command crashed its entity on every try; it was dropped and the entity went on. `cause` is the last crash. */
export class PoisonCommandError extends BeamstateError {
  readonly attempts: number;
  constructor(entityType: string, entityId: string, command: string, attempts: number, cause: unknown) {
    // The last crash's code, when it has one, so that a remote caller (who never gets `cause`) learns what kind of crash it was.
    const last = isBeamstateError(cause) ? ` (last crash: ${cause.code})` : '';
    super('POISON_COMMAND', `${entityType}.${command} crashed entity ${JSON.stringify(entityId)} ${attempts} times and was dropped${last}`, { cause });
    this.attempts = attempts;
  }
}

/**
 * `ENTITY_CONFLICT`: another writer appended to this entity's journal (or wrote its state) first.
 * Nothing of this command was persisted; the entity was stopped and comes back from the journal.
 */
export class EntityConflictError extends BeamstateError {
  constructor(entityType: string, entityId: string, cause: unknown) {
    super('ENTITY_CONFLICT', `entity ${entityType}/${entityId} was written by another writer; it was reloaded from the store`, { cause });
  }
}

/** `PERSIST_FAILED`: the store could not persist the command's events or state; `cause` is the store's error. Nothing was applied. */
export class PersistFailedError extends BeamstateError {
  constructor(entityType: string, entityId: string, cause: unknown) {
    super('PERSIST_FAILED', `could not persist ${entityType}/${entityId}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** `RECOVERY_FAILED`: the entity's state could not be loaded (snapshot, replay or state read failed). */
export class RecoveryFailedError extends BeamstateError {
  constructor(entityType: string, entityId: string, cause: unknown) {
    super('RECOVERY_FAILED', `could not recover ${entityType}/${entityId}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** `ENTITY_STOPPED`: the entity runtime is stopping; the command was not handled. */
export class EntityStoppedError extends BeamstateError {
  constructor(entityType: string) {
    super('ENTITY_STOPPED', `the entity runtime is stopping; ${entityType} accepts no more commands`);
  }
}

/** `INVALID_DEFINITION`: an entity definition or setting is invalid; `field` names it. */
export class InvalidDefinitionError extends BeamstateError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('INVALID_DEFINITION', `${field}: ${message}`);
    this.field = field;
  }
}

/**
 * `VALIDATION_TIMEOUT`: the command's async schema did not answer within `validationTimeoutMs`;
 * the command was not run, and the commands sent to the entity after it went on.
 */
export class ValidationTimeoutError extends BeamstateError {
  readonly timeoutMs: number;
  constructor(entityType: string, command: string, timeoutMs: number) {
    super('VALIDATION_TIMEOUT', `the input of ${entityType}.${command} was not validated within ${timeoutMs} ms (validationTimeoutMs)`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * `TOO_MANY_ACTIVE_ENTITIES`: the command was for an entity that is not active, and `limit`
 * entities are active (`maxActiveEntities` plus `maxActiveEntitiesOverflow`) with none idle to
 * passivate in its place; it was not run. Retry later (as after Orleans' load shedding).
 */
export class TooManyActiveEntitiesError extends BeamstateError {
  readonly limit: number;
  constructor(entityType: string, entityId: string, limit: number) {
    super('TOO_MANY_ACTIVE_ENTITIES', `cannot activate ${entityType}/${entityId}: ${limit} entities are active and every one is busy (maxActiveEntities + maxActiveEntitiesOverflow)`);
    this.limit = limit;
  }
}
