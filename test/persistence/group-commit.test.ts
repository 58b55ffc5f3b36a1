import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { GroupCommitWriter, observeBatches } from '../../src/persistence/group-commit.js';
import type { BatchOutcome, BatchRunner, PendingAppend } from '../../src/persistence/group-commit.js';
import { encodeEvents } from '../../src/persistence/encoded-events.js';
import type { EncodedEvents } from '../../src/persistence/encoded-events.js';
import { JournalConflictError, msgpackSerializer } from '../../src/persistence/index.js';
import type { Store } from '../../src/persistence/index.js';
import { freshId, openTestDatabase, settle } from './support.js';
import type { TestDatabase } from './support.js';

const serializer = msgpackSerializer();
const events = (n = 1, bytes = 1): EncodedEvents =>
  encodeEvents(
    serializer,
    Array.from({ length: n }, () => ({ payload: new Uint8Array(bytes) })),
  );

interface Call {
  readonly batch: readonly PendingAppend[];
  readonly finish: (outcome?: BatchOutcome | Error) => void;
}

/** A runner that records each batch and lets the test decide when (and how) it finishes. */
function controlledRunner(): { run: BatchRunner; calls: Call[] } {
  const calls: Call[] = [];
  const run: BatchRunner = (batch) =>
    new Promise<BatchOutcome>((resolve, reject) => {
      calls.push({
        batch,
        finish: (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome ?? { timestamp: 42, failed: undefined })),
      });
    });
  return { run, calls };
}

/** Lets queued microtasks (and only those) run. */
async function microtasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

const ids = (call: Call | undefined): string[] => (call?.batch ?? []).map((p) => p.persistenceId);

describe('group-commit writer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes a lone append at once, without waiting for a timer', async () => {
    vi.useFakeTimers();
    const run = vi.fn<BatchRunner>(async () => ({ timestamp: 1, failed: undefined }));
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 100, maxBatchBytes: 1 << 20, maxBatchesInFlight: 1 });
    let result: unknown;
    void writer.submit('a', 0, events()).then((r) => (result = r));
    await microtasks();
    // Fake timers never fire here: had the writer waited on one, nothing would have run.
    expect(vi.getTimerCount()).toBe(0);
    expect(run).toHaveBeenCalledTimes(1);
    expect(result).toEqual({ persistenceId: 'a', firstSequenceNr: 1, highestSequenceNr: 1, timestamp: 1 });
  });

  it('puts appends made in the same tick into one batch', async () => {
    const { run, calls } = controlledRunner();
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 100, maxBatchBytes: 1 << 20, maxBatchesInFlight: 1 });
    const done = ['a', 'b', 'c'].map((id) => writer.submit(id, 0, events()));
    await microtasks();
    expect(calls).toHaveLength(1);
    expect(ids(calls[0])).toEqual(['a', 'b', 'c']);
    calls[0]?.finish();
    await Promise.all(done);
  });

  it('collects appends that arrive while a batch is in flight into the next batch', async () => {
    const { run, calls } = controlledRunner();
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 100, maxBatchBytes: 1 << 20, maxBatchesInFlight: 1 });
    const first = writer.submit('first', 0, events());
    await microtasks();
    expect(calls).toHaveLength(1);
    const rest: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      rest.push(writer.submit(`id-${i}`, 0, events()));
      await microtasks(); // separate ticks: they still wait for the batch in flight
    }
    expect(calls).toHaveLength(1);
    calls[0]?.finish();
    await first;
    await microtasks();
    expect(calls).toHaveLength(2);
    expect(ids(calls[1])).toHaveLength(10);
    calls[1]?.finish();
    await Promise.all(rest);
    expect(writer.stats()).toMatchObject({ appends: 11, events: 11, batches: 2, largestBatch: 10, conflicts: 0 });
  });

  it('bounds batches by events, sending an oversized append alone', async () => {
    const { run, calls } = controlledRunner();
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 5, maxBatchBytes: 1 << 20, maxBatchesInFlight: 1 });
    const all = [
      writer.submit('a', 0, events(2)),
      writer.submit('b', 0, events(2)),
      writer.submit('c', 0, events(2)), // would make 6
      writer.submit('big', 0, events(9)),
      writer.submit('d', 0, events(1)),
    ];
    const sizes: string[][] = [];
    for (let i = 0; i < 10 && sizes.length < 4; i++) {
      await microtasks();
      const call = calls[sizes.length];
      if (call === undefined) continue;
      sizes.push(ids(call));
      call.finish();
    }
    await Promise.all(all);
    expect(sizes).toEqual([['a', 'b'], ['c'], ['big'], ['d']]);
  });

  it('bounds batches by bytes', async () => {
    const { run, calls } = controlledRunner();
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 1000, maxBatchBytes: 250, maxBatchesInFlight: 1 });
    const all = ['a', 'b', 'c'].map((id) => writer.submit(id, 0, events(1, 100)));
    await microtasks();
    expect(ids(calls[0])).toEqual(['a', 'b']);
    calls[0]?.finish();
    await microtasks();
    expect(ids(calls[1])).toEqual(['c']);
    calls[1]?.finish();
    await Promise.all(all);
  });

  it('never puts two appends for one id in the same batch, and keeps their order', async () => {
    const { run, calls } = controlledRunner();
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 100, maxBatchBytes: 1 << 20, maxBatchesInFlight: 4 });
    const all = [writer.submit('x', 0, events()), writer.submit('y', 0, events()), writer.submit('x', 1, events()), writer.submit('x', 2, events())];
    await microtasks();
    // Free slots are not used for x's later appends while x is in flight.
    expect(calls.map(ids)).toEqual([['x'], ['y']]);
    calls[0]?.finish();
    await microtasks();
    expect(calls[2]?.batch.map((p) => [p.persistenceId, p.expected])).toEqual([['x', 1]]);
    calls[2]?.finish();
    await microtasks();
    expect(calls[3]?.batch.map((p) => [p.persistenceId, p.expected])).toEqual([['x', 2]]);
    calls[3]?.finish();
    calls[1]?.finish();
    await Promise.all(all);
  });

  it('spreads what is waiting evenly over the free batch slots', async () => {
    const { run, calls } = controlledRunner();
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 100, maxBatchBytes: 1 << 20, maxBatchesInFlight: 2 });
    const all = Array.from({ length: 10 }, (_, i) => writer.submit(`id-${i}`, 0, events()));
    await microtasks();
    expect(calls.map((c) => c.batch.length)).toEqual([5, 5]);
    for (const c of calls) c.finish();
    await Promise.all(all);
  });

  it('runs up to maxBatchesInFlight batches at once', async () => {
    const { run, calls } = controlledRunner();
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 2, maxBatchBytes: 1 << 20, maxBatchesInFlight: 3 });
    const all = Array.from({ length: 10 }, (_, i) => writer.submit(`id-${i}`, 0, events()));
    await microtasks();
    expect(calls.map(ids)).toEqual([
      ['id-0', 'id-1'],
      ['id-2', 'id-3'],
      ['id-4', 'id-5'],
    ]);
    calls[1]?.finish();
    await microtasks();
    // A slot came free: the next batch starts while the other two are still running.
    expect(ids(calls[3])).toEqual(['id-6', 'id-7']);
    expect(calls).toHaveLength(4);
    // Finishing a batch twice is harmless, so keep finishing everything until all are written.
    for (let round = 0; round < 20 && writer.stats().appends < 10; round++) {
      for (const c of calls) c.finish();
      await microtasks();
    }
    await Promise.all(all);
    expect(writer.stats()).toMatchObject({ appends: 10, batches: 5 });
  });

  it('fails only the appends the runner reports as failed', async () => {
    const { run, calls } = controlledRunner();
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 100, maxBatchBytes: 1 << 20, maxBatchesInFlight: 1 });
    const all = settle(['a', 'b', 'c'].map((id) => writer.submit(id, 0, events())));
    await microtasks();
    calls[0]?.finish({ timestamp: 7, failed: new Map([[1, new JournalConflictError('b', 0)]]) });
    const { ok, failed } = await all;
    expect(ok.map((r) => r.persistenceId)).toEqual(['a', 'c']);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toBeInstanceOf(JournalConflictError);
    expect(writer.stats()).toMatchObject({ appends: 2, conflicts: 1 });
  });

  it('fails the whole batch when the runner throws, and carries on', async () => {
    const { run, calls } = controlledRunner();
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 100, maxBatchBytes: 1 << 20, maxBatchesInFlight: 1 });
    const doomed = settle(['a', 'b'].map((id) => writer.submit(id, 0, events())));
    await microtasks();
    const boom = new Error('connection refused');
    calls[0]?.finish(boom);
    expect((await doomed).failed).toEqual([boom, boom]);
    const later = writer.submit('c', 0, events());
    await microtasks();
    calls[1]?.finish();
    await expect(later).resolves.toMatchObject({ persistenceId: 'c' });
  });

  it('drains: resolves once nothing is queued or running', async () => {
    const { run, calls } = controlledRunner();
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 1, maxBatchBytes: 1 << 20, maxBatchesInFlight: 1 });
    await writer.drain();
    void writer.submit('a', 0, events());
    void writer.submit('b', 0, events());
    let drained = false;
    const d = writer.drain().then(() => (drained = true));
    await microtasks();
    calls[0]?.finish();
    await microtasks();
    expect(drained).toBe(false);
    calls[1]?.finish();
    await d;
    expect(drained).toBe(true);
  });
  it('tells a batch observer each batch: its appends, events, run time and batches in flight', async () => {
    const { run, calls } = controlledRunner();
    const writer = new GroupCommitWriter(run, { maxBatchEvents: 100, maxBatchBytes: 1 << 20, maxBatchesInFlight: 2 });
    const seen: [number, number, number, number][] = [];
    observeBatches((appends, evs, ms, inFlight) => seen.push([appends, evs, ms, inFlight]));
    try {
      void writer.submit('a', 0, events(2));
      void writer.submit('b', 0, events(3));
      void writer.submit('c', 0, events(1));
      await microtasks();
      expect(calls).toHaveLength(2); // spread over the two free slots
      expect(seen).toEqual([]); // told once a batch has run, not before
      calls[0]?.finish();
      await microtasks();
      calls[1]?.finish();
      await microtasks();
      expect(seen.map(([a, e, , f]) => [a, e, f])).toEqual([
        [calls[0]?.batch.length, calls[0]?.batch.reduce((n, p) => n + p.events.count, 0), 2],
        [calls[1]?.batch.length, calls[1]?.batch.reduce((n, p) => n + p.events.count, 0), 1],
      ]);
      expect(seen.reduce((n, [a]) => n + a, 0)).toBe(3);
      expect(seen.reduce((n, [, e]) => n + e, 0)).toBe(6);
      expect(seen.every(([, , ms]) => ms >= 0)).toBe(true);
    } finally {
      observeBatches(undefined);
    }
    void writer.submit('d', 0, events());
    await microtasks();
    calls[2]?.finish();
    await microtasks();
    expect(seen).toHaveLength(2); // removed: no longer told
  });
});

describe('group commit on the database', () => {
  let db: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    db = await openTestDatabase();
    store = await db.openStore();
  });
  afterAll(async () => {
    await db.close();
  });

  /** Distinct batch ids (= statements = transactions) among the events of `pids`. */
  async function transactionsFor(pids: readonly string[]): Promise<number> {
    const rows = await db.admin(
      `SELECT count(DISTINCT batch_id)::int AS n FROM "${db.schema}".beamstate_journal WHERE persistence_id = ANY($1::text[])`,
      [pids],
    );
    return Number(rows[0]?.n);
  }

  it('coalesces concurrent appends from many ids into few statements and transactions', async () => {
    const before = store.journal.stats();
    const pids = Array.from({ length: 300 }, () => freshId('gc'));
    // Three rounds per id, each awaiting its own previous append, all ids concurrently.
    await Promise.all(
      pids.map(async (pid, i) => {
        for (let n = 0; n < 3; n++) await store.journal.append(pid, n, [{ payload: { i, n } }]);
      }),
    );
    const after = store.journal.stats();
    const batches = after.batches - before.batches;
    expect(after.appends - before.appends).toBe(900);
    expect(batches).toBeLessThan(900 / 10);
    expect(after.largestBatch).toBeGreaterThan(1);
    expect(await transactionsFor(pids)).toBe(batches);
    for (const pid of pids.slice(0, 20)) expect((await store.journal.read(pid)).map((e) => e.sequenceNr)).toEqual([1, 2, 3]);
  });

  it('writes a batch mixing single- and multi-event appends, with and without metadata, faithfully', async () => {
    const pids = Array.from({ length: 12 }, () => freshId('mix'));
    const eventsFor = (i: number): { payload: unknown; type: string; metadata?: Record<string, unknown> }[] =>
      Array.from({ length: 1 + (i % 3) }, (_, k) => ({
        payload: { i, k, blob: new Uint8Array(i * 7 + k) },
        type: `T${i}.${k}`,
        ...((i + k) % 2 === 0 ? { metadata: { i, k } } : {}),
      }));
    const before = store.journal.stats().batches;
    await Promise.all(pids.map((pid, i) => store.journal.append(pid, 0, eventsFor(i))));
    expect(store.journal.stats().batches - before).toBeLessThan(pids.length);
    for (const [i, pid] of pids.entries()) {
      const events = await store.journal.read(pid);
      expect(events.map((e) => ({ payload: e.payload, type: e.type, metadata: e.metadata }))).toEqual(
        eventsFor(i).map((e) => ({
          payload: { ...(e.payload as object), blob: Buffer.from((e.payload as { blob: Uint8Array }).blob) },
          type: e.type,
          metadata: e.metadata,
        })),
      );
    }
  });

  it('gives a lone writer a batch of its own for every append', async () => {
    const pid = freshId('lone');
    const before = store.journal.stats().batches;
    for (let n = 0; n < 15; n++) await store.journal.append(pid, n, [{ payload: n }]);
    expect(store.journal.stats().batches - before).toBe(15);
    expect(await transactionsFor([pid])).toBe(15);
  });

  it('fails a conflicting append alone while the rest of its batch commits', async () => {
    // One batch slot, so that all 30 appends (issued in one tick) share one batch.
    const store = await db.openStore({ groupCommit: { maxBatchesInFlight: 1 } });
    const pids = Array.from({ length: 30 }, () => freshId('mixed'));
    const stale = pids[13] as string;
    await store.journal.append(stale, 0, [{ payload: 'already there' }]);
    const before = store.journal.stats().batches;
    const results = await Promise.allSettled(pids.map((pid) => store.journal.append(pid, 0, [{ payload: pid }, { payload: 2 }])));
    expect(store.journal.stats().batches - before).toBe(1); // one batch: the conflict was inside it
    results.forEach((r, i) => {
      if (i === 13) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(JournalConflictError);
      } else {
        expect(r.status).toBe('fulfilled');
      }
    });
    expect(await store.journal.read(stale)).toHaveLength(1);
    const committed = pids.filter((p) => p !== stale);
    expect(await transactionsFor(committed)).toBe(1);
    for (const pid of committed) expect((await store.journal.read(pid)).map((e) => e.payload)).toEqual([pid, 2]);
  });

  it('isolates an append the database rejects: the others in its batch still commit', async () => {
    const t = `"${db.schema}".beamstate_journal`;
    // A trigger that refuses one event type stands in for any statement-level failure.
    await db.admin(`CREATE FUNCTION "${db.schema}".refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.event_type = 'Poison' THEN RAISE EXCEPTION 'poisoned event'; END IF; RETURN NEW; END $$`);
    await db.admin(`CREATE TRIGGER refuse_poison BEFORE INSERT ON ${t} FOR EACH ROW EXECUTE FUNCTION "${db.schema}".refuse_poison()`);
    try {
      const pids = Array.from({ length: 10 }, () => freshId('poison'));
      const results = await Promise.allSettled(
        pids.map((pid, i) => store.journal.append(pid, 0, [{ payload: i, type: i === 4 ? 'Poison' : 'Fine' }])),
      );
      results.forEach((r, i) => {
        if (i === 4) expect(r.status === 'rejected' && (r.reason as { code?: string }).code).toBe('STORE_QUERY_FAILED');
        else expect(r.status).toBe('fulfilled');
      });
      expect(await store.journal.highestSequenceNr(pids[4] as string)).toBe(0);
      expect(await store.journal.read(pids[4] as string)).toEqual([]);
      expect(await store.journal.highestSequenceNr(pids[5] as string)).toBe(1);
    } finally {
      await db.admin(`DROP TRIGGER refuse_poison ON ${t}`);
    }
  });
});
