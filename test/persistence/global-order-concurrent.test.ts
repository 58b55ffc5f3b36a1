// The global order under concurrency (issue 17, item 2), on a real PostgreSQL server (skipped
// without DATABASE_URL): many writers on several pools, transactions held open so they commit out
// of order, and a tailing reader — in this process, and in a child process killed -9 and restarted
// — sees every committed event exactly once, each id's events in sequence order.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pg from 'pg';
import { compareOffsets, createStore, silentLogger, START_OFFSET, tailJournal } from '../../src/index.js';
import type { GlobalEvent, Store } from '../../src/index.js';
import { DATABASE_URL, uniqueName } from './support.js';

const readerChild = fileURLToPath(new URL('./fixtures/global-order-reader.ts', import.meta.url));

interface Plan {
  /** Per writer: how many ids it owns, and its appends (id index, events per append, tagged?). */
  readonly writers: readonly { readonly ids: number; readonly appends: readonly { readonly id: number; readonly events: number }[] }[];
  /** Transactions that insert an event early and commit only after this many appends were acknowledged. */
  readonly slow: readonly number[];
}

const planArb: fc.Arbitrary<Plan> = fc.record({
  writers: fc.array(
    fc.record({
      ids: fc.integer({ min: 1, max: 3 }),
      appends: fc.array(fc.record({ id: fc.nat(2), events: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 15 }),
    }),
    { minLength: 2, maxLength: 8 },
  ),
  slow: fc.array(fc.nat(40), { maxLength: 3 }),
});

/** Plans with at least 15 events, so the reader has something to be killed in the middle of. */
const longPlanArb: fc.Arbitrary<Plan> = fc.record({
  writers: fc.array(
    fc.record({
      ids: fc.integer({ min: 1, max: 3 }),
      appends: fc.array(fc.record({ id: fc.nat(2), events: fc.integer({ min: 1, max: 3 }) }), { minLength: 5, maxLength: 15 }),
    }),
    { minLength: 3, maxLength: 6 },
  ),
  slow: fc.array(fc.nat(40), { maxLength: 3 }),
});

describe.skipIf(DATABASE_URL === undefined)('the global order under concurrent writers (PostgreSQL; skipped without DATABASE_URL)', () => {
  const schema = uniqueName('bst_gorder');
  const url = DATABASE_URL as string;
  let writers: Store[];
  let readerStore: Store;
  let admin: pg.Pool;

  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: url, max: 6 });
    // Several pools (stores) on one schema, as several processes would be.
    writers = [];
    for (let i = 0; i < 3; i++) writers.push(await createStore({ kind: 'postgres', connectionString: url, schema, poolSize: 4, logger: silentLogger }));
    readerStore = await createStore({ kind: 'postgres', connectionString: url, schema, poolSize: 2, logger: silentLogger });
    await admin.query(`CREATE TABLE "${schema}".reader_seen (n bigserial PRIMARY KEY, reader text NOT NULL, pid text NOT NULL, seq bigint NOT NULL, "offset" text NOT NULL)`);
    await admin.query(`CREATE TABLE "${schema}".reader_offset (reader text PRIMARY KEY, "offset" text NOT NULL)`);
  });
  afterAll(async () => {
    await Promise.all([...writers, readerStore].map((s) => s.close()));
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  /**
   * Runs the plan: writers in parallel on the pools (each id's appends in order, ids interleaved),
   * slow transactions held open on the admin pool. Resolves with every event that committed, as
   * "pid#seq", per id in sequence order.
   */
  async function write(plan: Plan, prefix: string, onAck?: (acked: number) => void): Promise<Map<string, number>> {
    const highest = new Map<string, number>();
    let acked = 0;
    const waiters: { at: number; go: () => void }[] = [];
    const ack = (): void => {
      acked++;
      onAck?.(acked);
      for (const w of waiters.splice(0)) {
        if (acked >= w.at) w.go();
        else waiters.push(w);
      }
    };
    const total = plan.writers.reduce((n, w) => n + w.appends.length, 0);
    const slow = plan.slow.map(async (at, k) => {
      const pid = `${prefix}-slow-${k}`;
      const client = await admin.connect();
      try {
        await client.query('BEGIN');
        // Takes its xid and ordering now, before the writers' events; commits after theirs.
        await client.query(`INSERT INTO "${schema}".beamstate_journal_meta (persistence_id, highest_sequence_nr) VALUES ($1, 1)`, [pid]);
        await client.query(
          `INSERT INTO "${schema}".beamstate_journal (persistence_id, sequence_nr, event_type, payload, written_at, batch_id)
           VALUES ($1, 1, 'slow', '\\x01', 0, gen_random_uuid())`,
          [pid],
        );
        const threshold = Math.min(at, total);
        if (acked < threshold) await new Promise<void>((go) => waiters.push({ at: threshold, go }));
        await client.query('COMMIT');
        highest.set(pid, 1);
      } finally {
        client.release();
      }
    });
    const writing = plan.writers.map(async (w, wi) => {
      const store = writers[wi % writers.length] as Store;
      // Each id of the writer appends in order; the writer's ids run concurrently.
      const byId = new Map<number, { events: number }[]>();
      for (const a of w.appends) {
        const id = a.id % w.ids;
        byId.set(id, [...(byId.get(id) ?? []), a]);
      }
      await Promise.all(
        [...byId].map(async ([id, appends]) => {
          const pid = `${prefix}-w${wi}-${id}`;
          let seq = 0;
          for (const a of appends) {
            const events = Array.from({ length: a.events }, (_, i) => ({ payload: { seq: seq + i + 1 }, ...(i % 2 === 0 ? { tags: ['even'] } : {}) }));
            await store.journal.append(pid, seq, events);
            seq += a.events;
            highest.set(pid, seq);
            ack();
          }
        }),
      );
    });
    await Promise.all(writing);
    for (const w of waiters.splice(0)) w.go(); // thresholds beyond the total
    await Promise.all(slow);
    return highest;
  }

  function expectExactlyOnceInOrder(seen: readonly { pid: string; seq: number; offset: string }[], highest: Map<string, number>): void {
    const keys = seen.map((e) => `${e.pid}#${e.seq}`);
    expect(new Set(keys).size).toBe(keys.length); // no event twice
    const expected: string[] = [];
    for (const [pid, n] of highest) for (let s = 1; s <= n; s++) expected.push(`${pid}#${s}`);
    expect([...keys].sort()).toEqual(expected.sort()); // every committed event
    const last = new Map<string, number>();
    for (const e of seen) {
      expect(e.seq, `${e.pid} in sequence order`).toBe((last.get(e.pid) ?? 0) + 1);
      last.set(e.pid, e.seq);
    }
  }

  it('a tailing reader sees every committed event exactly once, per id in sequence order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(planArb, async (plan) => {
        const prefix = uniqueName('p');
        const seen: { pid: string; seq: number; offset: string }[] = [];
        let want = Infinity;
        let reached: () => void = () => {};
        const caughtUp = new Promise<void>((r) => (reached = r));
        const tail = tailJournal(readerStore.journal, {
          afterOffset: START_OFFSET,
          persistenceIdPrefixes: [prefix],
          batchSize: 5,
          pollIntervalMs: 2,
          onEvents: (events) => {
            for (const e of events) seen.push({ pid: e.persistenceId, seq: e.sequenceNr, offset: e.offset });
            if (seen.length >= want) reached();
          },
        });
        const highest = await write(plan, prefix);
        want = [...highest.values()].reduce((a, b) => a + b, 0);
        if (seen.length >= want) reached();
        // Fail fast if the tail got past the last event without having seen them all (a skip): once
        // every event is readable, a tail at or beyond the last one must have handed over all.
        let passed = false;
        const skipped = (async () => {
          for (let i = 0; i < 20_000 && seen.length < want && !passed; i++) {
            const visible = await readerStore.journal.readGlobal({ afterOffset: START_OFFSET, persistenceIdPrefixes: [prefix], max: 100_000 });
            const last = visible.at(-1)?.offset;
            if (visible.length === want && last !== undefined && compareOffsets(tail.offset, last) >= 0 && seen.length < want) passed = true;
          }
        })();
        await Promise.race([caughtUp, skipped, tail.done.then(() => Promise.reject(new Error('the tail stopped')))]);
        if (!passed && seen.length < want) throw new Error(`gave up waiting: the tail has ${seen.length} of ${want} events`);
        await tail.stop();
        expect(passed ? seen.length : want, 'the tail went past events it never handed over').toBe(want);
        // Nothing more for the prefix after where the tail ended.
        expect(await readerStore.journal.readGlobal({ afterOffset: tail.offset, persistenceIdPrefixes: [prefix] })).toEqual([]);
        expectExactlyOnceInOrder(seen, highest);
        // The offsets increase along what was read.
        const offsets = seen.map((e) => e.offset.split(':').map(Number) as [number, number]);
        for (let i = 1; i < offsets.length; i++) {
          const [a, b] = [offsets[i - 1] as [number, number], offsets[i] as [number, number]];
          expect(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1])).toBe(true);
        }
      }),
      { numRuns: 15 },
    );
  });

  it('the same through kill -9 of a reader child process, restarted from its stored offset', async () => {
    await fc.assert(
      fc.asyncProperty(longPlanArb, fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 3 }), async (plan, killAt) => {
        const prefix = uniqueName('k');
        const reader = uniqueName('r');
        let child: ChildProcess | undefined;
        let seenCount = 0;
        let want = Infinity;
        let reached: () => void = () => {};
        const caughtUp = new Promise<void>((r) => (reached = r));
        const kills = [...killAt].sort((a, b) => a - b);
        let killed = 0;
        let failed: ((err: Error) => void) | undefined;
        const childFailed = new Promise<never>((_, reject) => (failed = reject));
        childFailed.catch(() => {});
        const start = (): void => {
          const c = spawn(process.execPath, ['--import', 'tsx', readerChild, url, schema, reader, prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
          child = c;
          let buffered = '';
          c.stdout?.on('data', (chunk: Buffer) => {
            buffered += chunk.toString();
            const lines = buffered.split('\n');
            buffered = lines.pop() ?? '';
            for (const line of lines) {
              seenCount = Number(line.split(' ')[1]);
              if (killed < kills.length && seenCount >= (kills[killed] as number)) {
                killed++;
                c.kill('SIGKILL'); // at a random point: mid-page, mid-transaction or between pages
                return;
              }
              if (seenCount >= want) reached();
            }
          });
          c.on('exit', (code, signal) => {
            if (signal === 'SIGKILL' && c === child) start();
            else if (signal !== 'SIGTERM') failed?.(new Error(`reader exited with ${String(code)} ${String(signal)}`));
          });
        };
        start();
        try {
          const highest = await write(plan, prefix);
          want = [...highest.values()].reduce((a, b) => a + b, 0);
          if (seenCount >= want) reached();
          await Promise.race([caughtUp, childFailed]);
        } finally {
          const c = child;
          child = undefined;
          c?.kill('SIGTERM');
        }
        const rows = (await admin.query(`SELECT pid, seq, "offset" FROM "${schema}".reader_seen WHERE reader = $1 ORDER BY n`, [reader])).rows as {
          pid: string;
          seq: string;
          offset: string;
        }[];
        const highest = new Map<string, number>();
        for (const r of rows) highest.set(r.pid, Math.max(highest.get(r.pid) ?? 0, Number(r.seq)));
        // What the journal holds for the prefix is what was committed.
        const inJournal = new Map<string, number>();
        let offset = START_OFFSET;
        for (;;) {
          const page: GlobalEvent[] = await readerStore.journal.readGlobal({ afterOffset: offset, persistenceIdPrefixes: [prefix] });
          if (page.length === 0) break;
          for (const e of page) inJournal.set(e.persistenceId, e.sequenceNr);
          offset = (page[page.length - 1] as GlobalEvent).offset;
        }
        expectExactlyOnceInOrder(
          rows.map((r) => ({ pid: r.pid, seq: Number(r.seq), offset: r.offset })),
          inJournal,
        );
        expect(killed).toBeGreaterThan(0);
      }),
      { numRuns: 2 },
    );
  });
});
