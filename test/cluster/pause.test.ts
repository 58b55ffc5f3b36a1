// SIGSTOP of a node for longer than its lease, then SIGCONT: the classic paused-process hazard.
// While it is stopped the others take its shards (new epochs); when it resumes it must fence
// itself: nothing written under its old epochs after the pause, no two writers at one epoch.
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/gateway/index.js';
import { checkJournal, DATABASE_URL, expectSound, killAll, type NodeProc, owners, runLoad, startNode, until, withSchema } from './support.js';

describe.skipIf(DATABASE_URL === undefined)('cluster: a node paused longer than its lease', () => {
  const nodes: NodeProc[] = [];
  afterAll(() => killAll(nodes));

  it('fences itself on SIGCONT: it writes nothing under the epochs it held, and nothing acknowledged is lost', async () => {
    const db = await withSchema('c1_pause');
    try {
      for (const id of ['n1', 'n2', 'n3']) nodes.push(await startNode(db.schema, id));
      await until('the shards are spread over the three nodes', 10_000, async () => (await owners(db.pool, db.schema)).size === 3);
      const paused = nodes[2] as NodeProc;
      // Clients on every node, the paused one included: its gateway holds commands while stopped.
      const clients = await Promise.all(nodes.map((n) => connect(n.gateway, { format: 'msgpack' })));
      const entities = Array.from({ length: 24 }, (_, i) => `p${i}`);
      const load = runLoad(clients, entities, { concurrency: 12 });
      await until('some commands acknowledged', 10_000, () => load.acked.size >= 200);
      const before = await db.pool.query(`SELECT shard, epoch FROM "${db.schema}".beamstate_cluster_shards WHERE owner = 'n3'`);
      const heldEpochs = new Map<number, number>(before.rows.map((r: { shard: number; epoch: string }) => [r.shard, Number(r.epoch)]));
      expect(heldEpochs.size).toBeGreaterThan(0);
      paused.child.kill('SIGSTOP');
      const stoppedAtWall = Date.now();
      // Longer than its lease: until the others hold every shard it had, under new epochs.
      await until('the paused node’s shards are taken over', 15_000, async () => {
        const r = await db.pool.query(`SELECT count(*)::int AS n FROM "${db.schema}".beamstate_cluster_shards WHERE owner IN ('n1', 'n2') AND lease_until > now()`);
        return r.rows[0].n === 32;
      });
      paused.child.kill('SIGCONT');
      // It resumes, finds its leases gone (local clock and database), rejoins, takes its share back.
      await until('the resumed node holds shards again', 15_000, async () => ((await owners(db.pool, db.schema)).get('n3') ?? 0) > 0);
      const resumedAt = performance.now();
      await until('every entity acknowledged after the resume', 15_000, () => entities.every((e) => (load.lastAck.get(e) ?? 0) > resumedAt));
      await load.stop();
      for (const c of clients) c.close();
      const check = await checkJournal(db.pool, db.schema);
      const { lost, duplicated } = expectSound(check, load.acked);
      expect(lost).toEqual([]);
      expect(duplicated).toEqual([]);
      expect(check.gaps).toEqual([]);
      expect(check.staleWrites).toEqual([]);
      expect(check.sharedEpochs).toEqual([]);
      // Nothing written by n3 under an epoch it held before the pause, after the pause began.
      const { Unpackr } = await import('msgpackr');
      const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
      const { shardOf } = await import('../../src/cluster/index.js');
      const rows = await db.pool.query(`SELECT persistence_id, payload, written_at FROM "${db.schema}".beamstate_journal WHERE written_at > $1`, [stoppedAtWall]);
      const stale = rows.rows.filter((r: { persistence_id: string; payload: Buffer }) => {
        const e = unpackr.unpack(r.payload) as { node: string; epoch: number };
        return e.node === 'n3' && heldEpochs.get(shardOf(r.persistence_id, 32)) === e.epoch;
      });
      expect(stale).toEqual([]);
      console.info(JSON.stringify({ acked: load.acked.size, failed: Object.fromEntries(load.failed), afterPause: rows.rows.length }));
    } finally {
      killAll(nodes);
      await db.drop();
    }
  }, 55_000);
});
