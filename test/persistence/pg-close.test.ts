// close() of the PostgreSQL store resolves only when every pooled connection is gone, and no error
// escapes it, also when the server ends the sessions while they close (issue 13, item 7). Before:
// close() removed its pool error listener and resolved while the connections were still closing;
// a session ended by the server in that window (DROP DATABASE … WITH (FORCE), a failover) was an
// unhandled 'error' (57P01) that killed the process.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, silentLogger } from '../../src/index.js';
import { DATABASE_URL, uniqueName } from './support.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./fixtures/pg-close-child.ts', import.meta.url));

function urlFor(database: string): string {
  const url = new URL(DATABASE_URL as string);
  url.pathname = `/${database}`;
  return url.toString();
}

describe.skipIf(DATABASE_URL === undefined)('closing a PostgreSQL store (needs DATABASE_URL; skipped without it)', () => {
  let admin: pg.Pool;
  const databases: string[] = [];
  /** A fresh, empty database of the test's own, dropped afterwards. */
  async function freshDatabase(): Promise<string> {
    const name = uniqueName('bst_close');
    await admin.query(`CREATE DATABASE "${name}"`);
    databases.push(name);
    return name;
  }
  const sessionsOn = async (database: string): Promise<number> =>
    Number((await admin.query('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [database])).rows[0].n);

  beforeAll(() => {
    admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  });
  afterAll(async () => {
    for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  });

  it('resolves only once every pooled connection has closed', async () => {
    const database = await freshDatabase();
    const store = await createStore({ kind: 'postgres', connectionString: urlFor(database), poolSize: 4, logger: silentLogger });
    await Promise.all(Array.from({ length: 16 }, (_, i) => store.journal.read(`warm-${i}`)));
    expect(await sessionsOn(database)).toBeGreaterThan(1);
    await store.close();
    // Not one session left: a backend leaves pg_stat_activity before it closes its socket, and
    // close() waited for every socket to close.
    expect(await sessionsOn(database)).toBe(0);
    await admin.query(`DROP DATABASE "${database}"`); // without FORCE: fails if anyone is connected
  });

  it('survives the server ending the sessions while close() runs (DROP DATABASE … WITH (FORCE))', async () => {
    // Deterministic: the child blocks its event loop while the server ends its sessions, so
    // every FATAL is read only after close() has begun.
    const database = await freshDatabase();
    const out = await run(process.execPath, ['--import', 'tsx', child, urlFor(database), DATABASE_URL as string, database], {
      timeout: 60_000,
    }).catch((err: unknown) => err as { code?: unknown; stdout?: string; stderr?: string });
    // A crash shows as a non-zero exit (execFile rejects with its code) and its stack on stderr.
    expect('code' in out ? out.code : 0, out.stderr).toBe(0);
    expect(out.stdout).toBe('closed\n');
    expect(out.stderr).toBe('');
  });
});
