/**
 * What text the stores can hold exactly as given. PostgreSQL `text` (and so PGlite) cannot hold
 * NUL, and strings travel to it as UTF-8, where a lone surrogate has no encoding: `pg` and PGlite
 * both replace it with U+FFFD, so `'\uD800'` and `'\uD801'` would reach the database as one and
 * the same string. Text that passes `textProblem` is stored and read back unchanged on every
 * backend, and two different such strings stay two different strings.
 *
 * This is one rule, used wherever an identifier enters: persistence ids and type names in the
 * stores, entity ids in the entity runtime (and so over the gateway).
 */

/** Entity ids: at most this many UTF-16 code units (JavaScript `length`). */
export const MAX_ENTITY_ID_LENGTH = 512;

/**
 * Persistence ids: at most this many UTF-16 code units. A code unit takes at most 3 bytes in
 * UTF-8, so an id stays under PostgreSQL's limit on a btree index entry (about 2700 bytes), which
 * a longer one could exceed on the SQL stores while the memory store took it. An entity's
 * persistence id (type name, `|`, id) is at most 64 + 1 + 512 = 577 units.
 */
export const MAX_PERSISTENCE_ID_LENGTH = 768;

// `String.prototype.isWellFormed` is in Node 20 (ES2024); the project's lib is ES2023.
interface WellFormedString {
  isWellFormed(): boolean;
}

/** Why `text` cannot be stored exactly as given, or `undefined` if it can. */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain NUL characters';
  if (!(text as unknown as WellFormedString).isWellFormed()) return 'must be well-formed UTF-16 (no lone surrogates)';
  return undefined;
}

/** Whether `text` is stored and read back unchanged (see `textProblem`). Cheap: native scans only. */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && (text as unknown as WellFormedString).isWellFormed();
}

/**
 * Why `id` is not a valid entity id, or `undefined` if it is: a non-empty string of at most
 * `MAX_ENTITY_ID_LENGTH` UTF-16 code units that the stores can hold (see `textProblem`).
 */
export function entityIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string') return `must be a string, got ${id === null ? 'null' : typeof id}`;
  if (id.length === 0) return 'must not be empty';
  if (id.length > MAX_ENTITY_ID_LENGTH) return `must be at most ${MAX_ENTITY_ID_LENGTH} UTF-16 code units, got ${id.length}`;
  return textProblem(id);
}
