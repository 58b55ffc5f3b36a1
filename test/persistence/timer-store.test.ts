// The timer store on every backend: timer changes are written with the journal append or
// durable-state write they come with, only if that write wins its compare-and-set; claims are
// exclusive until their lease ends; and a sequence of changes leaves what applying them one by
// one would (a model, fast-check).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createStore, type Store, type TimerChange } from '../../src/persistence/index.js';
import { openTestDatabase, type TestDatabase } from './support.js';

const T = Date.UTC(2030, 0, 1);
let n = 0;
const fresh = (label: string): string => `${label}-${++n}-${Math.random().toString(36).slice(2, 8)}`;

const schedule = (name: string, dueAt: number, extra: Partial<Extract<TimerChange, { kind: 'schedule' }>> = {}): TimerChange => ({
  kind: 'schedule',
  name,
  dueAt,
  everyMs: 0,
  command: 'fire',
  payload: { name },
  scheduleId: `s-${name}-${dueAt}`,
  ...extra,
});

function contract(label: string, open: () => Promise<Store>, close: () => Promise<void>): void {
  describe(`timer store (${label})`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(close);

    it('an append writes its timers; an append that loses its compare-and-set writes none', async () => {
      const id = fresh('e');
      const pid = `t|${id}`;
      await store.journal.append(pid, 0, [{ payload: 1, type: 'A' }], { timers: { entityType: 't', entityId: id, changes: [schedule('won', T + 1)] } });
      await expect(
        store.journal.append(pid, 0, [{ payload: 2, type: 'B' }], { timers: { entityType: 't', entityId: id, changes: [schedule('lost', T + 1)] } }),
      ).rejects.toMatchObject({ code: 'JOURNAL_CONFLICT' });
      expect((await store.timers.list(pid)).map((t) => t.name)).toEqual(['won']);
    });

    it('in one group-commit batch, each append gets its own timers and a conflicting one none', async () => {
      const ids = Array.from({ length: 6 }, () => fresh('b'));
      await store.journal.append(`t|${ids[0]}`, 0, [{ payload: 0 }]);
      const results = await Promise.allSettled(
        ids.map((id) => store.journal.append(`t|${id}`, 0, [{ payload: 1 }], { timers: { entityType: 't', entityId: id, changes: [schedule('x', T + 5)] } })),
      );
      expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
      for (const [i, id] of ids.entries()) expect((await store.timers.list(`t|${id}`)).length).toBe(i === 0 ? 0 : 1);
    });

    it('a durable-state write writes its timers only if it wins; so does a delete', async () => {
      const id = fresh('v');
      const pid = `v|${id}`;
      await store.durableState.upsert(pid, 0, { a: 1 }, { timers: { entityType: 'v', entityId: id, changes: [schedule('one', T)] } });
      await expect(store.durableState.upsert(pid, 0, { a: 2 }, { timers: { entityType: 'v', entityId: id, changes: [schedule('two', T)] } })).rejects.toMatchObject({
        code: 'DURABLE_STATE_CONFLICT',
      });
      await expect(store.durableState.delete(pid, 7, { timers: { entityType: 'v', entityId: id, changes: [{ kind: 'cancel', name: 'one' }] } })).rejects.toMatchObject({
        code: 'DURABLE_STATE_CONFLICT',
      });
      expect((await store.timers.list(pid)).map((t) => t.name)).toEqual(['one']);
      expect(await store.durableState.delete(pid, 1, { timers: { entityType: 'v', entityId: id, changes: [{ kind: 'cancel', name: 'one' }] } })).toBe(true);
      expect(await store.timers.list(pid)).toEqual([]);
    });

    it('a claim is exclusive until its lease ends; completing needs the claim it was given', async () => {
      const id = fresh('c');
      const pid = `c|${id}`;
      await store.timers.write(pid, { entityType: 'c', entityId: id, changes: [schedule('a', T), schedule('b', T + 100)] });
      const first = await store.timers.claimDue({ now: T + 50, leaseMs: 1000, claim: 'one', max: 10, entityTypes: ['c'] });
      expect(first.map((t) => [t.name, t.claim, t.payload])).toEqual([['a', 'one', { name: 'a' }]]);
      expect(await store.timers.claimDue({ now: T + 500, leaseMs: 1000, claim: 'two', max: 10, entityTypes: ['c'] })).toMatchObject([{ name: 'b', claim: 'two' }]);
      // Other entity types are not this claimer's.
      expect(await store.timers.claimDue({ now: T + 5000, leaseMs: 1000, claim: 'x', max: 10, entityTypes: ['other'] })).toEqual([]);
      // A completion with a stale claim does nothing; the lease ends and another claimer takes it.
      await store.timers.write(pid, { entityType: 'c', entityId: id, changes: [{ kind: 'complete', name: 'a', claim: 'stale', nextDueAt: null }] });
      const again = await store.timers.claimDue({ now: T + 1050, leaseMs: 1000, claim: 'three', max: 10, entityTypes: ['c'] });
      expect(again.map((t) => [t.name, t.claim])).toEqual([['a', 'three']]);
      await store.timers.write(pid, { entityType: 'c', entityId: id, changes: [{ kind: 'complete', name: 'a', claim: 'three', nextDueAt: null }] });
      expect((await store.timers.list(pid)).map((t) => t.name)).toEqual(['b']);
    });

    it('retry, dead letter and release act only under the claim', async () => {
      const id = fresh('r');
      const pid = `r|${id}`;
      await store.timers.write(pid, { entityType: 'r', entityId: id, changes: [schedule('p', T, { everyMs: 1000 })] });
      const [t] = await store.timers.claimDue({ now: T, leaseMs: 500, claim: 'k1', max: 1, entityTypes: ['r'] });
      await store.timers.retry({ persistenceId: pid, name: 'p', claim: 'wrong' }, T + 10, 'nope');
      expect(await store.timers.list(pid)).toMatchObject([{ attempts: 0, claimed: true }]);
      await store.timers.retry({ persistenceId: pid, name: 'p', claim: 'k1' }, T + 10, 'E: failed');
      // The claim stays until the retry's claim replaces it: a late completion under it still counts.
      expect(await store.timers.list(pid)).toMatchObject([{ attempts: 1, claimed: true, fireAt: T + 10, lastError: 'E: failed' }]);
      const [t2] = await store.timers.claimDue({ now: T + 10, leaseMs: 500, claim: 'k2', max: 1, entityTypes: ['r'] });
      expect(t2).toMatchObject({ attempts: 1, dueAt: T });
      const before = (await store.timers.deadLetters()).length;
      await store.timers.deadLetter(t2!, 'E: last', T + 20, T + 1000);
      expect((await store.timers.deadLetters()).slice(before)).toMatchObject([{ persistenceId: pid, name: 'p', attempts: 2, dueAt: T, lastError: 'E: last', deadAt: T + 20, payload: { name: 'p' } }]);
      // Periodic: the timer goes on at its next occurrence.
      expect(await store.timers.list(pid)).toMatchObject([{ dueAt: T + 1000, fireAt: T + 1000, attempts: 0, claimed: false }]);
      expect(t).toBeDefined();
      const [t3] = await store.timers.claimDue({ now: T + 1000, leaseMs: 500, claim: 'k3', max: 1, entityTypes: ['r'] });
      await store.timers.release([t3!], T + 1000);
      expect(await store.timers.list(pid)).toMatchObject([{ claimed: false, fireAt: T + 1000 }]);
      expect(await store.timers.nextFireAt(['r'])).toBeLessThanOrEqual(T + 1000);
    });

    it('a sequence of schedules and cancels, in one or more writes, leaves what applying them one by one would', async () => {
      const op = fc.oneof(
        fc.record({ kind: fc.constant('schedule' as const), name: fc.constantFrom('a', 'b', 'c'), due: fc.nat(100) }),
        fc.record({ kind: fc.constant('cancel' as const), name: fc.constantFrom('a', 'b', 'c') }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(op, { maxLength: 6 }), { minLength: 1, maxLength: 4 }), async (writes) => {
          const id = fresh('m');
          const pid = `m|${id}`;
          const model = new Map<string, number>();
          let seq = 0;
          for (const w of writes) {
            const changes: TimerChange[] = w.map((o) =>
              o.kind === 'schedule' ? schedule(o.name, T + o.due, { scheduleId: `s${seq++}` }) : { kind: 'cancel', name: o.name },
            );
            await store.journal.append(pid, await store.journal.highestSequenceNr(pid), [{ payload: 0 }], { timers: { entityType: 'm', entityId: id, changes } });
            for (const o of w) {
              if (o.kind === 'schedule') model.set(o.name, T + o.due);
              else model.delete(o.name);
            }
          }
          const stored = await store.timers.list(pid);
          expect(stored.map((t) => [t.name, t.dueAt])).toEqual([...model.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
        }),
        { numRuns: label === 'memory' ? 100 : 25 },
      );
    }, 60_000);
  });
}

contract(
  'memory',
  () => createStore({ kind: 'memory' }),
  async () => {},
);

let pgliteDb: TestDatabase;
contract(
  'PGlite',
  async () => {
    pgliteDb = await openTestDatabase('pglite');
    return pgliteDb.openStore();
  },
  () => pgliteDb.close(),
);

// PGlite is single-node and refuses a write fence: PostgreSQL only.
describe.skipIf(process.env.DATABASE_URL === undefined)('timer changes under a write fence (the cluster; PostgreSQL, skipped without DATABASE_URL)', () => {
  let db: TestDatabase;
  let allow = true;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db.close());

  it('a fenced append or durable-state write carries its timers, and a refused one writes none', async () => {
    // A fence that lets a write through while `allow`, and refuses it after.
    const store = await db.openStore({
      writeFence: {
        // The statement's SQL is built once; the token is taken per write: epoch 1 passes, 2 is refused.
        token: () => [1, allow ? 1 : 2],
        condition: (key, epoch) => `(${key} = 1 AND ${epoch} = 1)`,
        refused: (pid) => Object.assign(new Error(`fenced: ${pid}`), { code: 'TEST_FENCED' }),
      },
    });
    const id = fresh('f');
    allow = true;
    await store.journal.append(`f|${id}`, 0, [{ payload: 1 }], { timers: { entityType: 'f', entityId: id, changes: [schedule('j', T)] } });
    await store.durableState.upsert(`g|${id}`, 0, 1, { timers: { entityType: 'g', entityId: id, changes: [schedule('s', T)] } });
    expect((await store.timers.list(`f|${id}`)).map((t) => t.name)).toEqual(['j']);
    expect((await store.timers.list(`g|${id}`)).map((t) => t.name)).toEqual(['s']);
    allow = false;
    await expect(store.journal.append(`f|${id}`, 1, [{ payload: 2 }], { timers: { entityType: 'f', entityId: id, changes: [schedule('j2', T)] } })).rejects.toThrow();
    await expect(store.durableState.upsert(`g|${id}`, 1, 2, { timers: { entityType: 'g', entityId: id, changes: [schedule('s2', T)] } })).rejects.toThrow();
    expect((await store.timers.list(`f|${id}`)).map((t) => t.name)).toEqual(['j']);
    expect((await store.timers.list(`g|${id}`)).map((t) => t.name)).toEqual(['s']);
    // A command that changed only its timers (ctx.reply with a schedule): fenced the same way.
    allow = true;
    await store.timers.write(`h|${id}`, { entityType: 'h', entityId: id, changes: [schedule('alone', T)] });
    allow = false;
    await expect(store.timers.write(`h|${id}`, { entityType: 'h', entityId: id, changes: [schedule('stale', T), { kind: 'cancel', name: 'alone' }] })).rejects.toMatchObject({
      code: 'TEST_FENCED',
    });
    expect((await store.timers.list(`h|${id}`)).map((t) => t.name)).toEqual(['alone']);
  });
});

// PostgreSQL when DATABASE_URL is set (without it, this would be PGlite a second time).
let pgDb: TestDatabase;
if (process.env.DATABASE_URL !== undefined) {
  contract(
    'PostgreSQL',
    async () => {
      pgDb = await openTestDatabase();
      return pgDb.openStore();
    },
    () => pgDb.close(),
  );
}
