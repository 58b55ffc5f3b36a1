// The database going away under the gateway (real PostgreSQL only: sessions are killed with
// pg_terminate_backend while clients' commands are being written). What a client was told must
// be true: every `reply` is in the journal, every failure comes as an error frame with a stable
// code, and the connections, the server and the entities carry on.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { DATABASE_URL, openTestDatabase } from '../persistence/support.js';
import { onCleanup, rawClient, serve } from './support.js';

const CONNECTIONS = 4;
const ENTITIES_PER_CONNECTION = 6;
const COMMANDS_PER_ENTITY = 15;
/** Each entity's commands go two at a time (pipelined on the connection), so batches form. */
const PIPELINE = 2;
/** Rounds of terminating the store's sessions. */
const KILL_SWEEPS = 150;

describe.runIf(DATABASE_URL !== undefined)('the database going away mid-write, through the gateway (real PostgreSQL)', () => {
  it('every acknowledged command is in the journal, every failure is a coded error frame, and everyone carries on', async () => {
    const db = await openTestDatabase();
    onCleanup(() => db.close());
    const store = await db.openStore();
    const { url, gateway } = await serve({}, store);
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    admin.on('error', () => {});
    await admin.connect();
    onCleanup(() => admin.end());

    const acked = new Map<string, number>();
    const codes = new Map<string, number>();
    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => rawClient(url)));
    let nextId = 0;
    const work = clients.flatMap((c, ci) =>
      Array.from({ length: ENTITIES_PER_CONNECTION }, async (_, ei) => {
        const entity = `c${ci}e${ei}`;
        for (let i = 0; i < COMMANDS_PER_ENTITY; i += PIPELINE) {
          const answers = await Promise.all(
            Array.from({ length: PIPELINE }, () => c.request({ kind: 'command', id: `r${nextId++}`, entity: { type: 'counter', id: entity }, command: 'add', input: { n: 1 } })),
          );
          for (const a of answers) {
            if (a.kind === 'reply') acked.set(entity, (acked.get(entity) ?? 0) + 1);
            else {
              expect(a.kind).toBe('error');
              const code = (a.error as { code: string }).code;
              codes.set(code, (codes.get(code) ?? 0) + 1);
            }
          }
        }
      }),
    );
    let finished = false;
    let terminated = 0;
    let sweeps = 0;
    const killer = (async () => {
      // The database goes away again and again for a while, then stays: a bounded number of
      // sweeps (ended early if the clients are done). Killing for as long as the clients have
      // work would also kill every read-back of an interrupted write, and nothing could finish.
      while (!finished && sweeps++ < KILL_SWEEPS) {
        await new Promise((r) => setImmediate(r));
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE '%${db.schema}%'`,
        );
        terminated += rows.length;
      }
    })();
    await Promise.all(work);
    finished = true;
    await killer;

    expect(terminated).toBeGreaterThan(0);
    // The faults hit requests (the test proves nothing otherwise), and requests got through.
    expect([...codes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect([...acked.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // Failures are the documented ones for a store that went away (or a write that lost its
    // answer and was reconciled), never an internal error or a dropped request.
    for (const code of codes.keys()) expect(['PERSIST_FAILED', 'ENTITY_CONFLICT', 'RECOVERY_FAILED', 'STORE_UNAVAILABLE']).toContain(code);
    // Every connection is still open and serving; so is the gateway.
    expect(gateway.connections).toBe(CONNECTIONS);
    for (let ci = 0; ci < CONNECTIONS; ci++) {
      for (let ei = 0; ei < ENTITIES_PER_CONNECTION; ei++) {
        const entity = `c${ci}e${ei}`;
        const events = await store.journal.read(`counter|${entity}`);
        // No acknowledged command is missing; extra events can only come from writes whose
        // outcome was reported as unknown (PERSIST_FAILED after a lost commit).
        expect(events.length).toBeGreaterThanOrEqual(acked.get(entity) ?? 0);
        expect(events.map((e) => e.sequenceNr)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
        // And the entity, asked over the same connection, agrees with its journal.
        const state = await (clients[ci] as (typeof clients)[number]).request({ kind: 'command', id: `get-${entity}`, entity: { type: 'counter', id: entity }, command: 'get' });
        expect(state).toMatchObject({ kind: 'reply', result: events.length });
      }
    }
  });
});
