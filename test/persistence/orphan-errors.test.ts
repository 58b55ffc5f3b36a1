// A session terminated while it connects can deliver its FATAL in the same socket chunk as its
// ReadyForQuery: pg-pool hands the client over and drops its own 'error' listener in that very
// parse, before any checkout can add one. An 'error' event with no listener crashes a process.
// Needs the real server (sessions are terminated with pg_terminate_backend): skipped without
// DATABASE_URL, as the other fault tests.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../../src/persistence/index.js';
import { DATABASE_URL, openTestDatabase, type TestDatabase, uniqueName } from './support.js';

describe.runIf(DATABASE_URL !== undefined)('connections killed at any moment', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  it('never emit an error nobody listens to, while writers keep going', async () => {
    const appName = uniqueName('orphan');
    const url = new URL(DATABASE_URL as string);
    url.searchParams.set('application_name', appName);
    const store = await createStore({ kind: 'postgres', connectionString: url.toString(), schema: db.schema });
    // Count 'error' events that no listener would have caught (the process would have died).
    const emit = pg.Client.prototype.emit;
    let orphans = 0;
    pg.Client.prototype.emit = function (this: pg.Client, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'error' && this.listenerCount('error') === 0) {
        orphans++;
        return false;
      }
      return emit.call(this, event, ...args);
    };
    try {
      let acks = 0;
      let stop = false;
      const writers = Array.from({ length: 40 }, async (_, w) => {
        let seq = 0;
        while (!stop) {
          try {
            await store.journal.append(`orphan-${w}`, seq, [{ payload: { seq }, type: 'N' }]);
            seq++;
            acks++;
          } catch {
            seq = await store.journal.highestSequenceNr(`orphan-${w}`).catch(() => seq);
          }
        }
      });
      // Bounded: 60 rounds of "let some writes through, then kill every session of the store".
      for (let k = 0; k < 60; k++) {
        const target = acks + 30;
        while (acks < target) await new Promise((r) => setImmediate(r));
        await db.admin('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
      }
      stop = true;
      await Promise.all(writers);
      expect(orphans).toBe(0);
      expect(acks).toBeGreaterThan(60 * 30);
    } finally {
      pg.Client.prototype.emit = emit;
      await store.close();
    }
  }, 120_000);
});
