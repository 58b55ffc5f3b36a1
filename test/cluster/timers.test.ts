// Durable timers in a cluster of real node processes: a node claims only the timers of the shards
// it owns, each timer fires once, on its entity's owner; after kill -9 of a node that had claimed
// its timers (and hangs in their delivery), the new owners fire them, with the same delivery ids.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../src/cluster/index.js';
import type { Fired } from './fixtures/timer-node.js';
import { DATABASE_URL, FAST, until, withSchema } from './support.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/timer-node.ts', import.meta.url));

interface TimerNode {
  readonly nodeId: string;
  readonly child: ChildProcess;
  /** The next stdout JSON line that has `key`, as its value of `key`. */
  next<T>(key: string): Promise<T>;
  send(line: string): void;
  readonly exited: Promise<unknown>;
}

async function startTimerNode(schema: string, nodeId: string, extra: { spinOnFire?: boolean } = {}): Promise<TimerNode> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify({ url: DATABASE_URL, schema, nodeId, ...FAST, ...extra })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiters: { key: string; resolve: (v: unknown) => void }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const i = waiters.findIndex((w) => w.key in v);
    const w = i >= 0 ? waiters.splice(i, 1)[0] : undefined;
    w?.resolve(v[w.key]);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const next = <T>(key: string): Promise<T> =>
    Promise.race([
      new Promise<T>((resolve) => waiters.push({ key, resolve: resolve as (v: unknown) => void })),
      exited.then((): never => {
        throw new Error(`node ${nodeId} exited before "${key}"`);
      }),
    ]);
  const n: TimerNode = { nodeId, child, next, send: (line) => child.stdin?.write(`${line}\n`), exited };
  await next('ready');
  return n;
}

/** Live owner of every shard, from the table. */
async function shardOwners(pool: pg.Pool, schema: string): Promise<Map<number, string>> {
  const r = await pool.query(`SELECT shard, owner FROM "${schema}".beamstate_cluster_shards WHERE owner IS NOT NULL AND lease_until > now()`);
  return new Map(r.rows.map((row: { shard: number; owner: string }) => [Number(row.shard), row.owner]));
}

/** Every `Fired` event in the journal, by entity id. */
async function firedEvents(pool: pg.Pool, schema: string): Promise<Map<string, Fired[]>> {
  const { Unpackr } = await import('msgpackr');
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
  const r = await pool.query(`SELECT persistence_id, payload FROM "${schema}".beamstate_journal WHERE persistence_id LIKE 'ticker|%' ORDER BY persistence_id, sequence_nr`);
  const out = new Map<string, Fired[]>();
  for (const row of r.rows as { persistence_id: string; payload: Buffer }[]) {
    const e = unpackr.unpack(row.payload) as Fired;
    if (e.type !== 'Fired') continue;
    const id = row.persistence_id.slice('ticker|'.length);
    out.set(id, [...(out.get(id) ?? []), e]);
  }
  return out;
}

const pidOf = (id: string): string => `ticker|${id}`;

describe.skipIf(DATABASE_URL === undefined)('cluster: durable timers', () => {
  const nodes: TimerNode[] = [];
  const kill = (): void => {
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
  };
  afterAll(kill);

  it('fire once each, on the owner of their shard; a node killed with timers claimed has them fired by the new owners, same delivery ids', async () => {
    const db = await withSchema('t3_timers');
    try {
      // n3 claims its timers and then hangs in their first delivery: a node that dies with claims.
      nodes.push(await startTimerNode(db.schema, 'n1'), await startTimerNode(db.schema, 'n2'), await startTimerNode(db.schema, 'n3', { spinOnFire: true }));
      const [n1, n2, n3] = nodes as [TimerNode, TimerNode, TimerNode];
      await until('the shards are spread over the three nodes', 15_000, async () => {
        const o = await shardOwners(db.pool, db.schema);
        const per = new Map<string, number>();
        for (const owner of o.values()) per.set(owner, (per.get(owner) ?? 0) + 1);
        return o.size === FAST.shards && per.size === 3 && [...per.values()].every((c) => c >= 10);
      });
      const before = await shardOwners(db.pool, db.schema);
      const ownerOf = (id: string): string => before.get(shardOf(pidOf(id), FAST.shards)) as string;

      // Phase 1: timers on entities of n1's and n2's shards, all due at one moment, while every
      // node polls (each every 200 ms): only the owner may claim each one.
      const ids = Array.from({ length: 200 }, (_, i) => `e${i}`);
      const live = ids.filter((id) => ownerOf(id) !== 'n3').slice(0, 40);
      const victims = ids.filter((id) => ownerOf(id) === 'n3').slice(0, 15);
      expect(live.length).toBe(40);
      expect(victims.length).toBe(15);
      n1.send(`arm ${JSON.stringify({ ids: live, at: Date.now() + 800 })}`);
      expect(await n1.next<number>('armed')).toBe(40);
      await until('every phase-1 timer fired', 20_000, async () => (await firedEvents(db.pool, db.schema)).size === live.length);
      let fired = await firedEvents(db.pool, db.schema);
      for (const id of live) {
        expect(fired.get(id)?.length, id).toBe(1);
        expect(fired.get(id)?.[0]?.node, id).toBe(ownerOf(id));
        expect(fired.get(id)?.[0]?.attempt, id).toBe(1);
      }
      // Every claim any node made was of a timer in a shard it owned.
      for (const n of nodes) {
        n.send('claims');
        const claims = await n.next<string[]>('claims');
        for (const pid of claims) expect(before.get(shardOf(pid, FAST.shards)), `${n.nodeId} claimed ${pid}`).toBe(n.nodeId);
        if (n !== n3) expect(claims.length).toBeGreaterThan(0);
      }
      expect(await shardOwners(db.pool, db.schema)).toEqual(before); // nothing moved meanwhile

      // Phase 2: timers on n3's entities, all due at one moment (after every arm was answered):
      // n3 claims them in one round and hangs delivering the first.
      n2.send(`arm ${JSON.stringify({ ids: victims, at: Date.now() + 1500 })}`);
      expect(await n2.next<number>('armed')).toBe(victims.length);
      const claimedRows = async () =>
        (await db.pool.query(`SELECT persistence_id, schedule_id, due_at FROM "${db.schema}".beamstate_timers WHERE claim IS NOT NULL`)).rows as {
          persistence_id: string;
          schedule_id: string;
          due_at: string;
        }[];
      await until('n3 claimed its timers', 10_000, async () => (await claimedRows()).length === victims.length);
      const deliveryIds = new Map((await claimedRows()).map((r) => [r.persistence_id, `${r.schedule_id}:${r.due_at}`]));
      n3.child.kill('SIGKILL');
      await n3.exited;
      // Its shards' leases (1.5 s) and its claims' lease (3 s) run out; the survivors fire them.
      await until('every victim timer fired on a survivor', 25_000, async () => {
        const f = await firedEvents(db.pool, db.schema);
        return victims.every((id) => f.has(id));
      });
      fired = await firedEvents(db.pool, db.schema);
      const after = await shardOwners(db.pool, db.schema);
      for (const id of victims) {
        const events = fired.get(id) ?? [];
        expect(events.length, id).toBe(1);
        const owner = after.get(shardOf(pidOf(id), FAST.shards));
        expect(['n1', 'n2']).toContain(owner);
        expect(events[0]?.node, id).toBe(owner);
        expect(events[0]?.deliveryId, id).toBe(deliveryIds.get(pidOf(id)));
      }
      // Phase 1's timers did not fire again, and no timer is left.
      for (const id of live) expect(fired.get(id)?.length, id).toBe(1);
      expect((await db.pool.query(`SELECT count(*)::int AS n FROM "${db.schema}".beamstate_timers`)).rows[0].n).toBe(0);
      for (const n of [n1, n2]) {
        n.send('claims');
        const claims = await n.next<string[]>('claims');
        for (const pid of claims) expect(after.get(shardOf(pid, FAST.shards)), `${n.nodeId} claimed ${pid}`).toBe(n.nodeId);
      }
    } finally {
      kill();
      await db.drop();
    }
  }, 58_000);
});
