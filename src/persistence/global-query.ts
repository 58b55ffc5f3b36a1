import type { GlobalQuery, OffsetParts } from './global-order.js';
import { checkPrefixes, checkTag, parseOffset, START_OFFSET } from './global-order.js';
import { PersistenceArgumentError } from './errors.js';
import { checkPositiveInt } from './validation.js';

/** @internal A validated `GlobalQuery`. */
export interface CheckedGlobalQuery {
  readonly after: OffsetParts;
  readonly max: number;
  readonly tag: string | undefined;
  readonly prefixes: readonly string[] | undefined;
}

/** @internal Validates a global read's query; bad fields are `PersistenceArgumentError`s naming them. */
export function globalQuery(query: GlobalQuery): CheckedGlobalQuery {
  if (typeof query !== 'object' || query === null) throw new PersistenceArgumentError('query', 'must be an object');
  return {
    after: parseOffset(query.afterOffset ?? START_OFFSET, 'afterOffset'),
    max: query.max === undefined ? 1000 : checkPositiveInt(query.max, 'max'),
    tag: query.tag === undefined ? undefined : checkTag(query.tag, 'tag'),
    prefixes: checkPrefixes(query.persistenceIdPrefixes, 'persistenceIdPrefixes'),
  };
}
