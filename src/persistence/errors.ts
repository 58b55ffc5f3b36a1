import { BeamstateError } from '../errors.js';

/**
 * Errors of the persistence layer. Each failure kind is its own class with a stable `code`
 * (listed in docs/errors.md); programs switch on the code, the message is for humans.
 */

/**
 * An append's expected sequence number was not the journal's highest: another writer got there
 * first (or this writer's view is stale). Nothing of the append was written.
 */
export class JournalConflictError extends BeamstateError {
  readonly persistenceId: string;
  readonly expectedSequenceNr: number;

  constructor(persistenceId: string, expectedSequenceNr: number) {
    super(
      'JOURNAL_CONFLICT',
      `append to "${persistenceId}" expected highest sequence number ${expectedSequenceNr}, but the journal has moved on; nothing was written`,
    );
    this.persistenceId = persistenceId;
    this.expectedSequenceNr = expectedSequenceNr;
  }
}

/** A durable-state write or delete expected a revision the store does not have. */
export class DurableStateConflictError extends BeamstateError {
  readonly persistenceId: string;
  readonly expectedRevision: number;

  constructor(persistenceId: string, expectedRevision: number) {
    super(
      'DURABLE_STATE_CONFLICT',
      `durable state "${persistenceId}" is not at revision ${expectedRevision}; nothing was written`,
    );
    this.persistenceId = persistenceId;
    this.expectedRevision = expectedRevision;
  }
}

/**
 * The database could not be reached, or the connection was lost. For a write this is only
 * raised once it is certain that nothing was written (see `WriteOutcomeUnknownError`).
 */
export class StoreUnavailableError extends BeamstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_UNAVAILABLE', message, options);
  }
}

/**
 * The connection was lost while a write was being committed, and the store could not find out,
 * within `outcomeResolutionTimeoutMs`, whether the commit happened. The subclasses say which
 * kind of write; `instanceof WriteOutcomeUnknownError` catches both.
 */
export class WriteOutcomeUnknownError extends BeamstateError {
  readonly persistenceId: string;

  constructor(code: string, persistenceId: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.persistenceId = persistenceId;
  }
}

/**
 * An append's commit was interrupted and its outcome could not be read back. The events may or
 * may not be in the journal; read the journal's highest sequence number before writing again.
 */
export class AppendOutcomeUnknownError extends WriteOutcomeUnknownError {
  constructor(persistenceId: string, options?: { cause?: unknown }) {
    super(
      'APPEND_OUTCOME_UNKNOWN',
      persistenceId,
      `the connection was lost while committing an append to "${persistenceId}" and the outcome could not be read back; it may or may not have been written`,
      options,
    );
  }
}

/**
 * A durable-state write or delete was interrupted and its outcome could not be read back (or
 * another writer changed the value meanwhile, hiding it). Read the value before writing again.
 */
export class DurableStateOutcomeUnknownError extends WriteOutcomeUnknownError {
  constructor(persistenceId: string, options?: { cause?: unknown }) {
    super(
      'DURABLE_STATE_OUTCOME_UNKNOWN',
      persistenceId,
      `the connection was lost while writing durable state "${persistenceId}" and the outcome could not be read back; it may or may not have been written`,
      options,
    );
  }
}

/**
 * A snapshot save was interrupted and the store could not read back whether it was saved.
 * Saving is idempotent: save the same snapshot again.
 */
export class SnapshotOutcomeUnknownError extends WriteOutcomeUnknownError {
  constructor(persistenceId: string, options?: { cause?: unknown }) {
    super(
      'SNAPSHOT_OUTCOME_UNKNOWN',
      persistenceId,
      `the connection was lost while saving a snapshot of "${persistenceId}" and the outcome could not be read back; it may or may not have been saved`,
      options,
    );
  }
}

/** The database rejected a statement for a reason other than a lost connection or a conflict. */
export class StoreQueryError extends BeamstateError {
  /** The SQLSTATE code when the database gave one. */
  readonly sqlState: string | undefined;

  constructor(message: string, sqlState: string | undefined, options?: { cause?: unknown }) {
    super('STORE_QUERY_FAILED', message, options);
    this.sqlState = sqlState;
  }
}

/**
 * A PGlite data folder is already open: another process (or another store in this one) holds
 * its lock. Two writers on one folder would lose acknowledged events, so the second opener
 * fails at once. `holderPid`/`holderHost` name the holder when its lock file says so.
 */
export class StoreLockedError extends BeamstateError {
  readonly dataDir: string;
  readonly lockFile: string;
  readonly holderPid: number | undefined;
  readonly holderHost: string | undefined;

  constructor(dataDir: string, lockFile: string, holderPid: number | undefined, holderHost: string | undefined, detail?: string) {
    const who = holderPid === undefined ? 'another process' : `process ${holderPid}${holderHost === undefined ? '' : ` on ${holderHost}`}`;
    super(
      'STORE_LOCKED',
      `the PGlite data folder ${JSON.stringify(dataDir)} is in use by ${who}${detail === undefined ? '' : ` (${detail})`}; ` +
        `a folder belongs to one process at a time (use PostgreSQL to share data). ` +
        `If no process uses it, delete the lock file ${JSON.stringify(lockFile)}`,
    );
    this.dataDir = dataDir;
    this.lockFile = lockFile;
    this.holderPid = holderPid;
    this.holderHost = holderHost;
  }
}

/** The store was closed; no further operations are accepted. */
export class StoreClosedError extends BeamstateError {
  constructor() {
    super('STORE_CLOSED', 'the store is closed');
  }
}

/** An argument or option was invalid. `field` names it, e.g. `sequenceNr` or `options.schema`. */
export class PersistenceArgumentError extends BeamstateError {
  readonly field: string;

  constructor(field: string, message: string) {
    super('PERSISTENCE_INVALID_ARGUMENT', `${field}: ${message}`);
    this.field = field;
  }
}

/** The serializer could not encode or decode a value. */
export class SerializationError extends BeamstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SERIALIZATION_FAILED', message, options);
  }
}

/** The schema could not be brought to the version this library needs. */
export class MigrationError extends BeamstateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MIGRATION_FAILED', message, options);
  }
}
