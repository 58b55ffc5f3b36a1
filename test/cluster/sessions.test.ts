// pg_terminate_backend of every database session of one node while its process lives: its
// pools reconnect, it keeps (or retakes) its shards, and the journal stays sound.
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/gateway/index.js';
import { checkJournal, DATABASE_URL, expectSound, killAll, type NodeProc, owners, runLoad, startNode, until, withSchema } from './support.js';

describe.skipIf(DATABASE_URL === undefined)('cluster: a node’s database sessions terminated', () => {
  const nodes: NodeProc[] = [];
  afterAll(() => killAll(nodes));

  it('recovers without losing an acknowledged command or writing one twice', async () => {
    const db = await withSchema('c1_sessions');
    try {
      for (const id of ['n1', 'n2', 'n3']) nodes.push(await startNode(db.schema, id));
      await until('the shards are spread over the three nodes', 10_000, async () => (await owners(db.pool, db.schema)).size === 3);
      const clients = await Promise.all(nodes.map((n) => connect(n.gateway, { format: 'msgpack' })));
      const entities = Array.from({ length: 24 }, (_, i) => `s${i}`);
      const load = runLoad(clients, entities, { concurrency: 12 });
      await until('some commands acknowledged', 10_000, () => load.acked.size >= 100);
      let terminated = 0;
      for (let round = 0; round < 3; round++) {
        const r = await db.pool.query(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name IN ('beamstate-cluster:n2', 'beamstate-store:n2')`,
        );
        terminated += r.rows[0].n as number;
        const at = load.acked.size;
        await until('more commands acknowledged after the termination', 10_000, () => load.acked.size >= at + 50);
      }
      expect(terminated).toBeGreaterThan(0);
      const after = performance.now();
      await until('every entity acknowledged after the terminations', 15_000, () => entities.every((e) => (load.lastAck.get(e) ?? 0) > after));
      await until('n2 holds shards again', 10_000, async () => ((await owners(db.pool, db.schema)).get('n2') ?? 0) > 0);
      await load.stop();
      for (const c of clients) c.close();
      const check = await checkJournal(db.pool, db.schema);
      const { lost, duplicated } = expectSound(check, load.acked);
      expect(lost).toEqual([]);
      expect(duplicated).toEqual([]);
      expect(check.gaps).toEqual([]);
      expect(check.staleWrites).toEqual([]);
      expect(check.sharedEpochs).toEqual([]);
      console.info(JSON.stringify({ terminated, acked: load.acked.size, failed: Object.fromEntries(load.failed) }));
    } finally {
      killAll(nodes);
      await db.drop();
    }
  }, 55_000);
});
