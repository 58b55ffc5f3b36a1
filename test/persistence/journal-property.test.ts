import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createStore } from '../../src/persistence/index.js';
import type { PersistentEvent, Store } from '../../src/persistence/index.js';
import { freshId, openTestDatabase } from './support.js';
import type { TestDatabase } from './support.js';

// For random interleavings of appends from several ids (some of them racing for the same id),
// every id's journal is 1..highest with no gap, holds exactly the appends that were acknowledged,
// in order, and the global ordering agrees with each id's sequence numbers.

const IDS = 4;

/** Rounds of appends; the appends of one round are issued together, rounds one after another. */
const scenario = fc.array(
  fc.array(fc.record({ id: fc.integer({ min: 0, max: IDS - 1 }), events: fc.integer({ min: 1, max: 3 }) }), {
    minLength: 1,
    maxLength: 8,
  }),
  { minLength: 1, maxLength: 6 },
);

interface Written {
  round: number;
  slot: number;
  k: number;
}

async function check(store: Store, rounds: { id: number; events: number }[][]): Promise<void> {
  const pids = Array.from({ length: IDS }, () => freshId('prop'));
  const highest = new Array<number>(IDS).fill(0);
  const acknowledged: Written[][] = pids.map(() => []);
  for (const [round, appends] of rounds.entries()) {
    const start = [...highest];
    const results = await Promise.allSettled(
      appends.map((a, slot) =>
        store.journal.append(
          pids[a.id] as string,
          start[a.id] as number,
          Array.from({ length: a.events }, (_, k) => ({ payload: { round, slot, k } satisfies Written })),
        ),
      ),
    );
    const winners = new Map<number, number>();
    results.forEach((r, slot) => {
      const a = appends[slot] as { id: number; events: number };
      if (r.status === 'fulfilled') {
        expect(winners.has(a.id)).toBe(false); // at most one append per id and round can win
        winners.set(a.id, slot);
        expect(r.value.firstSequenceNr).toBe((start[a.id] as number) + 1);
        highest[a.id] = r.value.highestSequenceNr;
        for (let k = 0; k < a.events; k++) (acknowledged[a.id] as Written[]).push({ round, slot, k });
      } else {
        expect(r.reason).toMatchObject({ code: 'JOURNAL_CONFLICT' });
      }
    });
    // Every id that was appended to in this round got exactly one winner.
    expect(new Set(winners.keys())).toEqual(new Set(appends.map((a) => a.id)));
  }
  const orderingOf = new Map<string, number>();
  for (const [i, pid] of pids.entries()) {
    const events = await store.journal.read(pid);
    expect(events.map((e) => e.sequenceNr)).toEqual(Array.from({ length: highest[i] as number }, (_, n) => n + 1));
    expect(events.map((e) => e.payload)).toEqual(acknowledged[i]);
    expect(await store.journal.highestSequenceNr(pid)).toBe(highest[i]);
    for (const e of events) orderingOf.set(`${pid}#${e.sequenceNr}`, e.ordering);
  }
  // In global order, each id's events appear in sequence-number order.
  const mine = new Set(pids);
  const first = Math.min(...orderingOf.values());
  const global: PersistentEvent[] = Number.isFinite(first)
    ? (await store.journal.readByOrdering({ afterOrdering: first - 1, max: 1_000_000 })).filter((e) => mine.has(e.persistenceId))
    : [];
  expect(global).toHaveLength(orderingOf.size);
  const lastSeq = new Map<string, number>();
  for (const e of global) {
    expect(e.sequenceNr).toBe((lastSeq.get(e.persistenceId) ?? 0) + 1);
    lastSeq.set(e.persistenceId, e.sequenceNr);
    expect(orderingOf.get(`${e.persistenceId}#${e.sequenceNr}`)).toBe(e.ordering);
  }
}

describe('journal properties', () => {
  let db: TestDatabase;
  let sqlStore: Store;
  let memoryStore: Store;
  beforeAll(async () => {
    db = await openTestDatabase();
    sqlStore = await db.openStore();
    memoryStore = await createStore({ kind: 'memory' });
  });
  afterAll(async () => {
    await memoryStore.close();
    await db.close();
  });

  it('memory: ids stay contiguous from 1 and global order respects each id', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, (rounds) => check(memoryStore, rounds)),
      { numRuns: 200 },
    );
  });

  it('SQL (PostgreSQL with DATABASE_URL, else PGlite): ids stay contiguous from 1 and global order respects each id', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, (rounds) => check(sqlStore, rounds)),
      { numRuns: 40 },
    );
  });
});
