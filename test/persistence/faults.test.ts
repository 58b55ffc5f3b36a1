import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Socket } from 'node:net';
import { createStore, JournalConflictError, StoreUnavailableError } from '../../src/persistence/index.js';
import type { Store } from '../../src/persistence/index.js';
import { interpretReadBack } from '../../src/persistence/sql/append-batch.js';
import type { Logger } from '../../src/logger.js';
import { isBeamstateError } from '../../src/errors.js';
import { DATABASE_URL, freshId, openTestDatabase, uniqueName } from './support.js';
import type { TestDatabase } from './support.js';

describe('reading back an interrupted commit (pure interpretation)', () => {
  const batch = [
    { persistenceId: 'a', expected: 0 },
    { persistenceId: 'b', expected: 3 },
    { persistenceId: 'c', expected: 1 },
  ];

  it('reports appends found in the journal as written and the others of a committed batch as conflicts', () => {
    const failed = interpretReadBack(batch, new Set([0, 2]), new Error('lost'));
    expect([...failed.keys()]).toEqual([1]);
    expect(failed.get(1)).toBeInstanceOf(JournalConflictError);
    expect(failed.get(1)).toMatchObject({ persistenceId: 'b', expectedSequenceNr: 3 });
  });

  it('reports every append as not written when none of them is in the journal', () => {
    const cause = new Error('lost');
    const failed = interpretReadBack(batch, new Set(), cause);
    expect(failed.size).toBe(3);
    for (const err of failed.values()) {
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as StoreUnavailableError).cause).toBe(cause);
    }
  });

  it('reports nothing as failed when every append is in the journal', () => {
    expect(interpretReadBack(batch, new Set([0, 1, 2]), new Error('lost')).size).toBe(0);
  });
});

describe('an unreachable server', () => {
  it('fails store creation with STORE_UNAVAILABLE', async () => {
    // Port 1 refuses connections at once; nothing listens there.
    const err = await createStore({ kind: 'postgres', connectionString: 'postgres://postgres@127.0.0.1:1/none', schema: 'nowhere' }).catch(
      (e: unknown) => e,
    );
    expect(isBeamstateError(err, 'STORE_UNAVAILABLE')).toBe(true);
  });
});

/** A logger that keeps the messages, to show which code path ran. */
function recordingLogger(): Logger & { messages: string[] } {
  const messages: string[] = [];
  const logger: Logger & { messages: string[] } = {
    messages,
    debug: (_o, m) => void messages.push(m ?? ''),
    info: (_o, m) => void messages.push(m ?? ''),
    warn: (_o, m) => void messages.push(m ?? ''),
    error: (_o, m) => void messages.push(m ?? ''),
    child: () => logger,
  };
  return logger;
}

type QueryFn = (config: unknown) => Promise<unknown>;

/**
 * Makes the next append statement (or the next prepared statement whose name ends with
 * `statement`) on `pool` lose its connection: `mode` says when. The client's
 * socket is destroyed, so pg reports what it reports for a real network failure.
 */
function sabotageNextAppend(
  pool: pg.Pool,
  mode: 'after-commit' | 'before-send' | { whileBlocked: (backendPid: number) => Promise<void> },
  statement = '_append',
): { fired: () => boolean } {
  let armed = true;
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  (pool as unknown as { connect: () => Promise<pg.PoolClient> }).connect = async () => {
    const client = await connect();
    if (!armed) return client;
    const query = client.query.bind(client) as QueryFn;
    const socket = (client as unknown as { connection: { stream: Socket } }).connection.stream;
    (client as unknown as { query: QueryFn }).query = async (config) => {
      const name = (config as { name?: unknown } | null)?.name;
      if (!armed || typeof name !== 'string' || !name.endsWith(statement)) return query(config);
      armed = false;
      (pool as unknown as { connect: unknown }).connect = connect;
      if (mode === 'before-send') {
        socket.destroy();
        throw new Error('Connection terminated unexpectedly');
      }
      if (mode === 'after-commit') {
        await query(config); // committed: the statement ran to completion...
        socket.destroy(); // ...but its answer never arrives
        throw new Error('Connection terminated unexpectedly');
      }
      const running = query(config);
      running.catch(() => {});
      await mode.whileBlocked((client as unknown as { processID: number }).processID);
      socket.destroy();
      throw new Error('Connection terminated unexpectedly');
    };
    return client;
  };
  return { fired: () => !armed };
}

// These need a real server: PGlite runs in this process, so there is no connection to lose and
// no session to terminate. Without DATABASE_URL they are reported as skipped.
describe.runIf(DATABASE_URL !== undefined)('faults on a PostgreSQL server', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
    await (await db.openStore()).close(); // migrate once
  });
  afterAll(async () => {
    await db.close();
  });

  /** A store on its own pool, tagged with an application name so only its sessions are targeted. */
  async function isolatedStore(logger: Logger): Promise<{ store: Store; pool: pg.Pool; appName: string }> {
    const appName = uniqueName('bsfault');
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 8, application_name: appName });
    const store = await createStore({ kind: 'postgres', pool, schema: db.schema, logger, outcomeResolutionTimeoutMs: 20_000 });
    return { store, pool, appName };
  }

  it('a read on a pooled session the server has ended runs again on another connection', async () => {
    const { store, pool, appName } = await isolatedStore(recordingLogger());
    try {
      const id = freshId('reread');
      await store.journal.append(id, 0, [{ type: 'A', payload: 1 }]);
      // Three idle sessions in the pool, then the server ends them all. Their sockets are not read
      // meanwhile, so the pool cannot have noticed by the time the read takes one of them (in
      // production that is a read racing the FATAL message, or a socket that died silently).
      const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
      const streams = clients.map((c) => (c as unknown as { connection: { stream: Socket } }).connection.stream);
      for (const c of clients) c.release();
      for (const stream of streams) stream.pause();
      const admin = new pg.Client({ connectionString: DATABASE_URL });
      await admin.connect();
      const pids = clients.map((c) => (c as unknown as { processID: number }).processID);
      await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS t(pid)', [pids]);
      for (let i = 0; i < 500; i++) {
        const { rows } = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids]);
        if (rows.length === 0) break;
      }
      await admin.end();
      const reading = store.journal.read(id);
      // The read has been sent on a dead session by now; let the sockets tell their news.
      setImmediate(() => {
        for (const stream of streams) stream.resume();
      });
      expect((await reading).map((e) => e.payload)).toEqual([1]);
      expect(await store.journal.highestSequenceNr(id)).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('terminating the pool’s sessions during batched writes loses no acknowledged event and leaves no failed one', async () => {
    const logger = recordingLogger();
    const { store, pool, appName } = await isolatedStore(logger);
    try {
      const pids = Array.from({ length: 40 }, () => freshId('fault'));
      const acked = new Map<string, string>(); // `${pid}#${seq}` -> payload
      const failedTokens = new Set<string>();
      const surprises: unknown[] = [];
      let acks = 0;
      let failures = 0;
      let stop = false;
      let waiter: { at: number; resolve: () => void } | undefined;
      const progressed = (): void => {
        acks++;
        if (waiter !== undefined && acks >= waiter.at) {
          waiter.resolve();
          waiter = undefined;
        }
      };
      const untilAcks = (n: number): Promise<void> =>
        acks >= n ? Promise.resolve() : new Promise((resolve) => (waiter = { at: n, resolve }));

      const highestWithRetry = async (pid: string): Promise<number> => {
        for (let i = 0; ; i++) {
          try {
            return await store.journal.highestSequenceNr(pid);
          } catch (err) {
            if (!isBeamstateError(err, 'STORE_UNAVAILABLE') || i >= 200) throw err;
          }
        }
      };

      const writer = async (pid: string): Promise<void> => {
        let expected = 0;
        for (let attempt = 0; !stop && attempt < 2000; attempt++) {
          const token = `${pid}/${attempt}`;
          try {
            const r = await store.journal.append(pid, expected, [{ payload: `${token}/a` }, { payload: `${token}/b` }]);
            acked.set(`${pid}#${expected + 1}`, `${token}/a`);
            acked.set(`${pid}#${expected + 2}`, `${token}/b`);
            expected = r.highestSequenceNr;
            progressed();
          } catch (err) {
            if (isBeamstateError(err, 'STORE_UNAVAILABLE')) {
              failures++;
              failedTokens.add(token);
            } else {
              // A conflict would mean an append reported as failed was in fact written; an
              // unknown outcome should not happen while the server stays up.
              surprises.push(err);
            }
            expected = await highestWithRetry(pid);
          }
        }
      };

      const writers = Promise.all(pids.map(writer));
      let kills = 0;
      for (; kills < 40; kills++) {
        await untilAcks(acks + 40);
        await db.admin('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
        const lostAndResolved = logger.messages.filter((m) => m.startsWith('outcome of an interrupted write')).length;
        if (kills >= 5 && failures + lostAndResolved > 0) break;
      }
      await untilAcks(acks + 40); // and it keeps working between and after the kills
      stop = true;
      await writers;

      expect(surprises).toEqual([]);
      const interrupted = logger.messages.filter((m) => m.startsWith('connection lost during a write')).length;
      expect(interrupted).toBeGreaterThan(0); // the kills really hit writes in flight
      for (const pid of pids) {
        const events = await store.journal.read(pid);
        const highest = await store.journal.highestSequenceNr(pid);
        expect(events.map((e) => e.sequenceNr)).toEqual(Array.from({ length: highest }, (_, i) => i + 1));
        for (const e of events) {
          const payload = e.payload as string;
          // Every event in the journal was acknowledged, at exactly this position...
          expect(acked.get(`${pid}#${e.sequenceNr}`)).toBe(payload);
          // ...and none belongs to an append that was reported as failed.
          expect(failedTokens.has(payload.slice(0, payload.lastIndexOf('/')))).toBe(false);
        }
      }
      // ...and every acknowledged event is in the journal.
      let found = 0;
      for (const pid of pids) found += (await store.journal.read(pid)).length;
      expect(found).toBe(acked.size);
      // The store recovered: a new append on every id works.
      for (const pid of pids) {
        const h = await store.journal.highestSequenceNr(pid);
        await store.journal.append(pid, h, [{ payload: 'after the storm' }]);
      }
    } finally {
      await store.close();
      await pool.end();
    }
  });

  it('reports an append whose answer was lost after COMMIT as written, by reading it back', async () => {
    const logger = recordingLogger();
    const { store, pool } = await isolatedStore(logger);
    try {
      const pid = freshId('lost-ack');
      await store.journal.append(pid, 0, [{ payload: 'one' }]);
      const sabotage = sabotageNextAppend(pool, 'after-commit');
      const r = await store.journal.append(pid, 1, [{ payload: 'two' }, { payload: 'three' }]);
      expect(sabotage.fired()).toBe(true);
      expect(logger.messages).toContain('connection lost during a write; reading back its outcome');
      expect(r).toMatchObject({ firstSequenceNr: 2, highestSequenceNr: 3 });
      expect((await store.journal.read(pid)).map((e) => e.payload)).toEqual(['one', 'two', 'three']);
      await store.journal.append(pid, 3, [{ payload: 'four' }]);
    } finally {
      await store.close();
      await pool.end();
    }
  });

  it('reports the conflicting append of an interrupted but committed batch as a conflict, the others as written', async () => {
    const logger = recordingLogger();
    const { store, pool } = await isolatedStore(logger);
    try {
      const [a, b, c] = [freshId('lost-mix'), freshId('lost-mix'), freshId('lost-mix')] as [string, string, string];
      await store.journal.append(b, 0, [{ payload: 'b1' }]);
      const sabotage = sabotageNextAppend(pool, 'after-commit');
      const results = await Promise.allSettled([
        store.journal.append(a, 0, [{ payload: 'a1' }]),
        store.journal.append(b, 0, [{ payload: 'stale' }]),
        store.journal.append(c, 0, [{ payload: 'c1' }]),
      ]);
      expect(sabotage.fired()).toBe(true);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(JournalConflictError);
      expect((await store.journal.read(b)).map((e) => e.payload)).toEqual(['b1']);
      expect((await store.journal.read(c)).map((e) => e.payload)).toEqual(['c1']);
    } finally {
      await store.close();
      await pool.end();
    }
  });

  it('reports an append lost before it reached the server as not written', async () => {
    const logger = recordingLogger();
    const { store, pool } = await isolatedStore(logger);
    try {
      const pid = freshId('lost-send');
      await store.journal.append(pid, 0, [{ payload: 'one' }]);
      const sabotage = sabotageNextAppend(pool, 'before-send');
      const err = await store.journal.append(pid, 1, [{ payload: 'two' }]).catch((e: unknown) => e);
      expect(sabotage.fired()).toBe(true);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(await store.journal.highestSequenceNr(pid)).toBe(1);
      await store.journal.append(pid, 1, [{ payload: 'two, again' }]);
      expect((await store.journal.read(pid)).map((e) => e.payload)).toEqual(['one', 'two, again']);
    } finally {
      await store.close();
      await pool.end();
    }
  });

  it('reads back interrupted durable-state writes and snapshot saves', async () => {
    const logger = recordingLogger();
    const { store, pool } = await isolatedStore(logger);
    try {
      const pid = freshId('lost-state');
      // Committed, answer lost: reported as written.
      let sabotage = sabotageNextAppend(pool, 'after-commit', '_state_insert');
      expect(await store.durableState.upsert(pid, 0, 'first')).toMatchObject({ revision: 1 });
      expect(sabotage.fired()).toBe(true);
      sabotage = sabotageNextAppend(pool, 'after-commit', '_state_update');
      expect(await store.durableState.upsert(pid, 1, 'second')).toMatchObject({ revision: 2 });
      expect(sabotage.fired()).toBe(true);
      // Never sent: reported as not written.
      sabotage = sabotageNextAppend(pool, 'before-send', '_state_update');
      const err = await store.durableState.upsert(pid, 2, 'third').catch((e: unknown) => e);
      expect(sabotage.fired()).toBe(true);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(await store.durableState.get(pid)).toMatchObject({ revision: 2, value: 'second' });

      sabotage = sabotageNextAppend(pool, 'after-commit', '_snapshot_save');
      await store.snapshots.save(pid, 7, { at: 7 });
      expect(sabotage.fired()).toBe(true);
      sabotage = sabotageNextAppend(pool, 'before-send', '_snapshot_save');
      expect(await store.snapshots.save(pid, 8, { at: 8 }).catch((e: unknown) => e)).toBeInstanceOf(StoreUnavailableError);
      expect(sabotage.fired()).toBe(true);
      expect((await store.snapshots.loadLatest(pid))?.snapshot).toEqual({ at: 7 });
      expect(logger.messages.filter((m) => m.startsWith('outcome of an interrupted write'))).toHaveLength(5);
    } finally {
      await store.close();
      await pool.end();
    }
  });

  it('ends a session still running the lost statement before reading back, so a late commit cannot contradict the answer', async () => {
    const logger = recordingLogger();
    const { store, pool } = await isolatedStore(logger);
    const locker = new pg.Client({ connectionString: DATABASE_URL });
    await locker.connect();
    try {
      const pid = freshId('lost-blocked');
      await store.journal.append(pid, 0, [{ payload: 'one' }]);
      // Hold the id's metadata row, so the next append blocks inside its statement.
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${db.schema}".beamstate_journal_meta WHERE persistence_id = $1 FOR UPDATE`, [pid]);
      let blockedPid = 0;
      const sabotage = sabotageNextAppend(pool, {
        whileBlocked: async (backendPid) => {
          blockedPid = backendPid;
          for (let i = 0; i < 5000; i++) {
            const rows = await db.admin("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [backendPid]);
            if (rows.length > 0) return;
          }
          throw new Error('the append never blocked on the lock');
        },
      });
      const err = await store.journal.append(pid, 1, [{ payload: 'two' }]).catch((e: unknown) => e);
      expect(sabotage.fired()).toBe(true);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      // The blocked session was ended, so releasing the lock now cannot let it commit.
      expect(await db.admin('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [blockedPid])).toEqual([]);
      await locker.query('COMMIT');
      expect(await store.journal.highestSequenceNr(pid)).toBe(1);
      expect((await store.journal.read(pid)).map((e) => e.payload)).toEqual(['one']);
    } finally {
      await locker.end();
      await store.close();
      await pool.end();
    }
  });
});
