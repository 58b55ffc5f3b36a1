import type { PersistentEvent } from './journal.js';
import { PersistenceArgumentError } from './errors.js';

/**
 * A position in the journal's gap-free global order, as `"<tx>:<ordering>"`: the writing
 * transaction's id, then the event's `ordering` within it. Treat it as opaque: store it, hand it
 * back, compare it with `compareOffsets`. Offsets of different stores are not comparable.
 *
 * Why two numbers: `ordering` (an identity) is taken when a row is inserted, not when its
 * transaction commits, so a reader that asked for "ordering > X" skips, forever, a transaction
 * that took a small ordering and committed late. The global order instead sorts by transaction
 * id and reads only below the oldest transaction still running (the current snapshot's xmin):
 * every transaction below it has ended, so nothing can appear behind the reader any more.
 */
export type GlobalOffset = string;

/** The offset before every event: `eventsAfter(START_OFFSET)` reads from the beginning. */
export const START_OFFSET: GlobalOffset = '0:0';

/** An event read in global order. */
export interface GlobalEvent<P = unknown> extends PersistentEvent<P> {
  /** Its position in the global order; pass it back as `afterOffset` to continue after it. */
  readonly offset: GlobalOffset;
  /** The tags it was appended with (`EventToAppend.tags`, `ctx.emit(event, { tags })`); empty if none. */
  readonly tags: readonly string[];
}

/** Which events a global read returns. */
export interface GlobalQuery {
  /** Only events after this offset. Default `START_OFFSET`. */
  readonly afterOffset?: GlobalOffset;
  /** At most this many events. Default 1000. */
  readonly max?: number;
  /** Only events carrying this tag. */
  readonly tag?: string;
  /** Only events whose persistence id starts with one of these (entity type `T`'s ids start with `"T|"`). */
  readonly persistenceIdPrefixes?: readonly string[];
}

/** How far the events after an offset reach (for lag). */
export interface GlobalBacklog {
  /** Committed events after the offset that match the query (counted up to `BACKLOG_COUNT_LIMIT`). */
  readonly events: number;
  /** When the oldest of them was written (ms since the epoch); undefined when there is none. */
  readonly oldestTimestamp: number | undefined;
}

/** A backlog count stops here, so asking for lag never scans a whole journal. */
export const BACKLOG_COUNT_LIMIT = 1_000_000;

/** @internal An offset's two numbers. */
export interface OffsetParts {
  readonly tx: number;
  readonly ordering: number;
}

const OFFSET = /^(0|[1-9][0-9]{0,15}):(0|[1-9][0-9]{0,15})$/;

/** @internal Parses an offset; a malformed one is a `PersistenceArgumentError` naming `field`. */
export function parseOffset(value: unknown, field: string): OffsetParts {
  const m = typeof value === 'string' ? OFFSET.exec(value) : null;
  if (m === null) {
    throw new PersistenceArgumentError(field, `must be an offset read from the journal ("<tx>:<ordering>", START_OFFSET is "0:0"), got ${JSON.stringify(value)}`);
  }
  const tx = Number(m[1]);
  const ordering = Number(m[2]);
  if (!Number.isSafeInteger(tx) || !Number.isSafeInteger(ordering)) throw new PersistenceArgumentError(field, `is out of range: ${String(value)}`);
  return { tx, ordering };
}

/** @internal */
export function formatOffset(tx: number, ordering: number): GlobalOffset {
  return `${tx}:${ordering}`;
}

/** Orders two offsets of one store: negative if `a` comes first, 0 if equal, positive if after. */
export function compareOffsets(a: GlobalOffset, b: GlobalOffset): number {
  const x = parseOffset(a, 'a');
  const y = parseOffset(b, 'b');
  return x.tx !== y.tx ? x.tx - y.tx : x.ordering - y.ordering;
}

const TAG_SEPARATOR = '\u001f';
const MAX_TAG_LENGTH = 256;
const MAX_TAGS = 32;

/**
 * @internal Validates an event's tags: at most 32 distinct non-empty strings of at most 256
 * characters without control characters (the SQL backend joins them with one). Duplicates are
 * dropped, order is kept. Returns null for no tags.
 */
export function checkTags(value: unknown, field: string): readonly string[] | null {
  if (value === undefined) return null;
  if (!Array.isArray(value)) throw new PersistenceArgumentError(field, 'must be an array of strings');
  if (value.length > MAX_TAGS) throw new PersistenceArgumentError(field, `must hold at most ${MAX_TAGS} tags, got ${value.length}`);
  const out: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const tag = checkTag(value[i], `${field}[${i}]`);
    if (!out.includes(tag)) out.push(tag);
  }
  return out.length === 0 ? null : out;
}

/** @internal One tag (also what `eventsByTag` takes). */
export function checkTag(value: unknown, field: string): string {
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TAG_LENGTH || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new PersistenceArgumentError(field, `must be a non-empty string of at most ${MAX_TAG_LENGTH} characters without control characters, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** @internal Tags as the SQL backend stores them in transit: one string, split in SQL. */
export function joinTags(tags: readonly string[]): string {
  return tags.join(TAG_SEPARATOR);
}

/** @internal Validates a query's prefixes (non-empty strings). */
export function checkPrefixes(value: unknown, field: string): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0 || value.some((p) => typeof p !== 'string' || p === '')) {
    throw new PersistenceArgumentError(field, 'must be a non-empty array of non-empty strings');
  }
  return value as readonly string[];
}
