import { PersistenceArgumentError } from './errors.js';
import { isStorableText, MAX_PERSISTENCE_ID_LENGTH, textProblem } from './text.js';

// Small checks, each failing with an error that names the offending field. They run at the API
// boundary so that bad values never reach SQL (where they would fail a whole batch).

/** The largest sequence number, revision or count accepted: the largest exact JS integer. */
export const MAX_SEQUENCE_NR = Number.MAX_SAFE_INTEGER;

/**
 * A persistence id every backend holds exactly as given (see text.ts): non-empty, at most
 * `MAX_PERSISTENCE_ID_LENGTH` UTF-16 code units, no NUL, no lone surrogates. The memory store
 * could hold any string, but refuses the same ones, so a program behaves alike on every backend;
 * refusing here also keeps one bad id from failing a whole group-commit batch.
 */
export function checkPersistenceId(value: unknown, field = 'persistenceId'): string {
  if (typeof value !== 'string') throw new PersistenceArgumentError(field, 'must be a string');
  if (value.length === 0) throw new PersistenceArgumentError(field, 'must not be empty');
  if (value.length > MAX_PERSISTENCE_ID_LENGTH) {
    throw new PersistenceArgumentError(field, `must be at most ${MAX_PERSISTENCE_ID_LENGTH} UTF-16 code units, got ${value.length}`);
  }
  if (!isStorableText(value)) throw new PersistenceArgumentError(field, textProblem(value) as string);
  return value;
}

/** A non-negative safe integer: sequence numbers, revisions, counts. */
export function checkNonNegativeInt(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new PersistenceArgumentError(field, `must be an integer, got ${describe(value)}`);
  }
  if (value < 0) throw new PersistenceArgumentError(field, `must not be negative, got ${value}`);
  if (value > MAX_SEQUENCE_NR) throw new PersistenceArgumentError(field, `must be at most ${MAX_SEQUENCE_NR}`);
  return value;
}

export function checkPositiveInt(value: unknown, field: string): number {
  const n = checkNonNegativeInt(value, field);
  if (n === 0) throw new PersistenceArgumentError(field, 'must be at least 1');
  return n;
}

/** Like `checkNonNegativeInt` but `Infinity` is allowed and means "no bound". */
export function checkBound(value: unknown, field: string): number {
  if (value === Number.POSITIVE_INFINITY) return MAX_SEQUENCE_NR;
  return checkNonNegativeInt(value, field);
}

/** An event, snapshot or state type name: any string the stores hold exactly (no NUL, no lone surrogates). */
export function checkTypeName(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new PersistenceArgumentError(field, 'must be a string');
  if (!isStorableText(value)) throw new PersistenceArgumentError(field, textProblem(value) as string);
  return value;
}

export function checkMetadata(value: unknown, field: string): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PersistenceArgumentError(field, 'must be a plain object');
  }
  return value as Readonly<Record<string, unknown>>;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return value === null ? 'null' : typeof value;
}

/** Replay bounds with defaults applied; `max` 0 means "deliver nothing". */
export interface ReplayBounds {
  readonly from: number;
  readonly to: number;
  readonly max: number;
}

export function replayBounds(options: unknown): ReplayBounds {
  if (options === undefined) return { from: 1, to: MAX_SEQUENCE_NR, max: MAX_SEQUENCE_NR };
  if (typeof options !== 'object' || options === null) throw new PersistenceArgumentError('options', 'must be an object');
  const o = options as { fromSequenceNr?: unknown; toSequenceNr?: unknown; max?: unknown };
  return {
    from: o.fromSequenceNr === undefined ? 1 : checkNonNegativeInt(o.fromSequenceNr, 'options.fromSequenceNr'),
    to: o.toSequenceNr === undefined ? MAX_SEQUENCE_NR : checkBound(o.toSequenceNr, 'options.toSequenceNr'),
    max: o.max === undefined ? MAX_SEQUENCE_NR : checkBound(o.max, 'options.max'),
  };
}

/** Snapshot criteria with defaults applied. */
export interface CriteriaBounds {
  readonly minSequenceNr: number;
  readonly maxSequenceNr: number;
  readonly minTimestamp: number;
  readonly maxTimestamp: number;
}

export function criteriaBounds(criteria: unknown, field = 'criteria'): CriteriaBounds {
  if (criteria === undefined) {
    return { minSequenceNr: 0, maxSequenceNr: MAX_SEQUENCE_NR, minTimestamp: 0, maxTimestamp: MAX_SEQUENCE_NR };
  }
  if (typeof criteria !== 'object' || criteria === null) throw new PersistenceArgumentError(field, 'must be an object');
  const c = criteria as { minSequenceNr?: unknown; maxSequenceNr?: unknown; minTimestamp?: unknown; maxTimestamp?: unknown };
  return {
    minSequenceNr: c.minSequenceNr === undefined ? 0 : checkNonNegativeInt(c.minSequenceNr, `${field}.minSequenceNr`),
    maxSequenceNr: c.maxSequenceNr === undefined ? MAX_SEQUENCE_NR : checkBound(c.maxSequenceNr, `${field}.maxSequenceNr`),
    minTimestamp: c.minTimestamp === undefined ? 0 : checkNonNegativeInt(c.minTimestamp, `${field}.minTimestamp`),
    maxTimestamp: c.maxTimestamp === undefined ? MAX_SEQUENCE_NR : checkBound(c.maxTimestamp, `${field}.maxTimestamp`),
  };
}

export function matchesCriteria(c: CriteriaBounds, sequenceNr: number, timestamp: number): boolean {
  return (
    sequenceNr >= c.minSequenceNr &&
    sequenceNr <= c.maxSequenceNr &&
    timestamp >= c.minTimestamp &&
    timestamp <= c.maxTimestamp
  );
}
