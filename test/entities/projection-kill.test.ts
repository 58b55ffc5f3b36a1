// An exactly-once projection through kill -9 of the process that runs it (issue 17, item 3), on a
// real PostgreSQL server (skipped without DATABASE_URL): while writers append, the projection's
// process is killed at random points and started again; in the end the read model equals the
// fold of the journal and every event was applied exactly once, each id's in sequence order.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import pg from 'pg';
import { createStore, silentLogger, START_OFFSET } from '../../src/index.js';
import type { GlobalEvent, Store } from '../../src/index.js';
import { DATABASE_URL, uniqueName } from '../persistence/support.js';

const child = fileURLToPath(new URL('./fixtures/projection-child.ts', import.meta.url));

describe.skipIf(DATABASE_URL === undefined)('an exactly-once projection through kill -9 (PostgreSQL; skipped without DATABASE_URL)', () => {
  const url = DATABASE_URL as string;
  const schema = uniqueName('bst_projkill');
  let store: Store;
  let admin: pg.Pool;
  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: url, max: 2 });
    store = await createStore({ kind: 'postgres', connectionString: url, schema, poolSize: 4, logger: silentLogger });
    await admin.query(`CREATE TABLE "${schema}".applied (n bigserial PRIMARY KEY, pid text NOT NULL, seq bigint NOT NULL)`);
    await admin.query(`CREATE TABLE "${schema}".model (id text PRIMARY KEY, total bigint NOT NULL)`);
  });
  afterAll(async () => {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('the read model equals the fold of the journal, no event applied twice', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: -3, max: 9 }), { minLength: 4, maxLength: 12 }), { minLength: 3, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 3 }),
        async (perId, killAfter) => {
          const type = uniqueName('kacct');
          const name = uniqueName('proj');
          const total = perId.reduce((n, xs) => n + xs.length, 0);
          let current: ChildProcess | undefined;
          let kills = 0;
          let failed: (err: Error) => void = () => {};
          // Woken by each line a projection process prints (every few ms) and by each restart:
          // the wait below goes at the pace of the processes, not of this loop.
          let wake: () => void = () => {};
          const output = (): Promise<void> => new Promise((resolve) => (wake = resolve));
          const crashed = new Promise<never>((_, reject) => (failed = reject));
          crashed.catch(() => {});
          const start = (): void => {
            const c = spawn(process.execPath, ['--import', 'tsx', child, url, schema, name, type], { stdio: ['ignore', 'pipe', 'inherit'] });
            current = c;
            let buffered = '';
            c.stdout?.on('data', (chunk: Buffer) => {
              wake();
              buffered += chunk.toString();
              const lines = buffered.split('\n');
              buffered = lines.pop() ?? '';
              const last = lines.at(-1);
              const processed = last === undefined ? 0 : Number(last.split(' ')[1]);
              const threshold = killAfter[kills];
              if (threshold !== undefined && processed >= threshold) {
                kills++;
                c.kill('SIGKILL');
              }
            });
            c.on('exit', (code, signal) => {
              if (c !== current) return;
              if (signal === 'SIGKILL') start();
              else failed(new Error(`projection process exited with ${String(code)} ${String(signal)}`));
            });
          };
          start();
          try {
            // Writers: one per id, concurrently, one event per append.
            await Promise.all(
              perId.map(async (ns, i) => {
                for (let s = 0; s < ns.length; s++) await store.journal.append(`${type}|${i}`, s, [{ payload: { n: ns[s] }, type: 'Added' }]);
              }),
            );
            // Until every event is applied (the process may still be killed on the way). Bounded.
            const applied = async (): Promise<number> =>
              Number((await admin.query(`SELECT count(*) AS n FROM "${schema}".applied WHERE pid LIKE $1`, [`${type}|%`])).rows[0].n);
            let n = 0;
            for (let i = 0; i < 20_000 && n < total; i++) {
              n = await Promise.race([applied(), crashed]);
              if (n < total) await Promise.race([output(), crashed]);
            }
            expect(n, 'events applied (fewer: some lost; more: applied twice)').toBe(total);
          } finally {
            const c = current;
            current = undefined;
            c?.kill('SIGKILL');
          }
          const rows = (await admin.query(`SELECT pid, seq FROM "${schema}".applied WHERE pid LIKE $1 ORDER BY n`, [`${type}|%`])).rows as {
            pid: string;
            seq: string;
          }[];
          // Exactly once, each id in sequence order.
          const next = new Map<string, number>();
          for (const r of rows) {
            expect(Number(r.seq), r.pid).toBe((next.get(r.pid) ?? 0) + 1);
            next.set(r.pid, Number(r.seq));
          }
          expect(rows.length).toBe(total);
          // The model equals the fold of the journal.
          const fold = new Map<string, number>();
          let offset = START_OFFSET;
          for (;;) {
            const page: GlobalEvent[] = await store.journal.readGlobal({ afterOffset: offset, persistenceIdPrefixes: [`${type}|`] });
            if (page.length === 0) break;
            for (const e of page) fold.set(e.persistenceId, (fold.get(e.persistenceId) ?? 0) + (e.payload as { n: number }).n);
            offset = (page[page.length - 1] as GlobalEvent).offset;
          }
          const model = (await admin.query(`SELECT id, total FROM "${schema}".model WHERE id LIKE $1`, [`${type}|%`])).rows as { id: string; total: string }[];
          expect(new Map(model.map((m) => [m.id, Number(m.total)]))).toEqual(fold);
          expect(kills).toBeGreaterThan(0);
        },
      ),
      { numRuns: 3 },
    );
    // Up to 12 starts of a tsx child process (3 runs, up to 3 kills each): seconds each on a loaded 2-core machine.
  }, 180_000);
});
