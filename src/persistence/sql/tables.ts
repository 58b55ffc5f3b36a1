import { PersistenceArgumentError } from '../errors.js';

/**
 * Where a store's tables live: `schema` and a `tablePrefix`, so several systems (or test runs)
 * can share one database. Names are validated rather than escaped: a plain lowercase identifier
 * is the same quoted or not, and shows up readably in psql.
 */
export interface Tables {
  readonly schema: string;
  readonly prefix: string;
  /** Quoted, schema-qualified names, ready to paste into SQL. */
  readonly journal: string;
  readonly journalMeta: string;
  readonly snapshots: string;
  readonly durableState: string;
  /** Durable timers and the occurrences given up on (migration 4). */
  readonly timers: string;
  readonly timerDeadLetters: string;
  readonly migrations: string;
  readonly projectionOffsets: string;
  /** Unqualified name of the journal table, for index names. */
  readonly journalName: string;
  /** A short tag unique to schema + prefix, for prepared-statement names. */
  readonly tag: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
// PostgreSQL truncates identifiers at 63 bytes; the longest table suffix is "journal_ordering_idx" (20).
const MAX_SCHEMA = 63;
const MAX_PREFIX = 63 - 20;

export function tables(schema: string, prefix: string): Tables {
  if (typeof schema !== 'string' || !IDENTIFIER.test(schema) || schema.length > MAX_SCHEMA) {
    throw new PersistenceArgumentError(
      'options.schema',
      `must be a lowercase identifier (a-z, 0-9, _; not starting with a digit) of at most ${MAX_SCHEMA} characters, got ${JSON.stringify(schema)}`,
    );
  }
  if (typeof prefix !== 'string' || (prefix !== '' && !IDENTIFIER.test(prefix)) || prefix.length > MAX_PREFIX) {
    throw new PersistenceArgumentError(
      'options.tablePrefix',
      `must be empty or a lowercase identifier (a-z, 0-9, _) of at most ${MAX_PREFIX} characters, got ${JSON.stringify(prefix)}`,
    );
  }
  const q = (name: string): string => `"${schema}"."${prefix}${name}"`;
  return {
    schema,
    prefix,
    journal: q('journal'),
    journalMeta: q('journal_meta'),
    snapshots: q('snapshots'),
    durableState: q('durable_state'),
    timers: q('timers'),
    timerDeadLetters: q('timer_dead_letters'),
    migrations: q('migrations'),
    projectionOffsets: q('projection_offsets'),
    journalName: `${prefix}journal`,
    tag: hash(`${schema}.${prefix}`),
  };
}

/** A short, stable, non-cryptographic hash (FNV-1a, 32 bits) as hex. */
export function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
