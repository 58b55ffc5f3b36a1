// `beamstate serve --cluster`: refused in one line without PostgreSQL; two served nodes on one
// database split the shards and each answers for entities the other owns, and a SIGTERM hands
// the node's shards off before it exits.
import { execFile, type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/gateway/index.js';
import { DATABASE_URL, until } from './support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'src', 'gateway', 'cli.ts');
const execFileP = promisify(execFile);

describe('beamstate serve --cluster', () => {
  it('without PostgreSQL: one line, exit 1, nothing served', async () => {
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const out = await execFileP(process.execPath, ['--import', 'tsx', cli, 'serve', 'examples/shopping-cart.ts', '--port', '0', '--cluster'], { cwd: root, env, timeout: 30_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^beamstate: --cluster needs PostgreSQL[^\n]*PGlite is single-node[^\n]*\n$/);
  });

  describe.skipIf(DATABASE_URL === undefined)('on PostgreSQL', () => {
    const children: ChildProcess[] = [];
    const database = `c1_cli_${process.pid}`;
    const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    afterAll(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
      await admin.end();
    });

    function serve(nodeId: string, url: string): Promise<{ child: ChildProcess; gateway: string; exited: Promise<number | null> }> {
      const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', 'examples/shopping-cart.ts', '--port', '0', '--database', url, '--cluster', '--node-id', nodeId], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      return new Promise((resolve, reject) => {
        createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) => {
          const m = /listening on (ws:\/\/\S+) .*cluster node (\S+) at ws:\/\//.exec(line);
          if (m === null || m[2] !== nodeId) reject(new Error(`unexpected: ${line}`));
          else resolve({ child, gateway: m[1] as string, exited });
        });
        void exited.then((code) => reject(new Error(`serve exited with ${String(code)}`)));
      });
    }

    it('two nodes split the shards, answer for each other, and a SIGTERM hands shards off', async () => {
      await admin.query(`CREATE DATABASE ${database}`);
      const url = new URL(DATABASE_URL as string);
      url.pathname = `/${database}`;
      const db = new pg.Pool({ connectionString: url.href, max: 1 });
      try {
        const [a, b] = await Promise.all([serve('a', url.href), serve('b', url.href)]);
        const owners = async (): Promise<Map<string, number>> =>
          new Map((await db.query(`SELECT owner, count(*)::int AS n FROM beamstate_cluster_shards WHERE owner IS NOT NULL AND lease_until > now() GROUP BY owner`)).rows.map((r: { owner: string; n: number }) => [r.owner, r.n]));
        await until('each node holds half of the 1024 shards', 20_000, async () => {
          const o = await owners();
          return o.get('a') === 512 && o.get('b') === 512;
        });
        const ca = await connect(a!.gateway, { format: 'msgpack' });
        const cb = await connect(b!.gateway, { format: 'msgpack' });
        for (let i = 0; i < 8; i++) {
          await ca.ask('cart', `c${i}`, 'addItem', { sku: 's', name: 'n', quantity: i + 1 });
          expect(await cb.ask('cart', `c${i}`, 'getCart')).toEqual({ items: [{ sku: 's', name: 'n', quantity: i + 1 }], checkedOut: false });
        }
        ca.close();
        b!.child.kill('SIGTERM');
        expect(await b!.exited).toBe(0);
        // Handed off, not left to expire: a holds every shard at once (well inside a lease).
        const o = await owners();
        const left = (await db.query(`SELECT count(*)::int AS n FROM beamstate_cluster_shards WHERE owner = 'b'`)).rows[0].n as number;
        expect(left).toBe(0);
        await until('a holds every shard', 5000, async () => (await owners()).get('a') === 1024);
        expect(o.has('b')).toBe(false);
        cb.close();
      } finally {
        await db.end();
      }
    }, 55_000);
  });
});
