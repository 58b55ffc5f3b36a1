// The process table's pages: for any search, sort and page size, the pages together hold every
// matching actor exactly once, in the order asked for, and `total` counts them.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, createActorSystem, silentLogger } from '../../src/index.js';
import { processPage, Rates } from '../../src/observer/collect.js';
import { PROCESS_SORT_KEYS, type ProcessQuery, type ProcessRow } from '../../src/observer/protocol.js';

let system: ActorSystem;
const NAMES = ['alpha', 'beta', 'gamma', 'Alpha-2', 'delta'];

beforeAll(() => {
  system = createActorSystem({ logger: silentLogger });
  for (let i = 0; i < 120; i++) {
    const name = i % 3 === 0 ? `${NAMES[i % NAMES.length]}-${i}` : undefined;
    const ref = system.spawn({ receive: (s: undefined) => s }, name === undefined ? {} : { name });
    // Different mailbox depths, so sorting by mailbox has ties and differences.
    if (i % 4 === 0) for (let k = 0; k < i % 7; k++) ref.tell(k);
  }
});
afterAll(async () => {
  await system.stop();
});

describe('observer process table', () => {
  it('property: the pages partition the matching actors, sorted as asked', () => {
    const rates = new Rates();
    fc.assert(
      fc.property(
        fc.constantFrom('', 'alpha', 'ALPHA', '<1', 'actor', 'zzz', '-3'),
        fc.constantFrom(...PROCESS_SORT_KEYS),
        fc.boolean(),
        fc.integer({ min: 1, max: 40 }),
        (search, sort, desc, pageSize) => {
          const base: ProcessQuery = { search, sort, desc, page: 0, pageSize };
          const first = processPage(system, rates, base);
          const pages = Math.ceil(first.total / pageSize);
          const all: ProcessRow[] = [];
          for (let p = 0; p < pages + 1; p++) all.push(...processPage(system, rates, { ...base, page: p }).rows);
          // Every matching actor, once.
          const needle = search.toLowerCase();
          const expected = [...system.actors()].filter(
            (a) => needle === '' || `<${a.id}>`.includes(needle) || (a.name?.toLowerCase().includes(needle) ?? false) || 'actor'.includes(needle),
          );
          expect(all).toHaveLength(expected.length);
          expect(first.total).toBe(expected.length);
          expect(new Set(all.map((r) => r.id))).toEqual(new Set(expected.map((a) => a.id)));
          // In order: each adjacent pair is sorted by the key (ties by id).
          for (let i = 1; i < all.length; i++) {
            const [a, b] = desc ? [all[i] as ProcessRow, all[i - 1] as ProcessRow] : [all[i - 1] as ProcessRow, all[i] as ProcessRow];
            const ka = a[sort] ?? '';
            const kb = b[sort] ?? '';
            if (typeof ka === 'number' && typeof kb === 'number') expect(ka < kb || (ka === kb && a.id < b.id)).toBe(true);
            else {
              const c = String(ka).localeCompare(String(kb));
              expect(c < 0 || (c === 0 && a.id < b.id)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
