// Membership changes under load: a node joining takes its share by hand-off; a rolling restart
// (each node leaves gracefully, handing its shards off first, then comes back); commands for one
// new entity sent to every node at once (a race to activate it). After each: nothing
// acknowledged lost, nothing written twice, one writer per (entity, epoch), epochs only rising.
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type GatewayClient } from '../../src/gateway/index.js';
import { checkJournal, DATABASE_URL, expectSound, killAll, type NodeProc, owners, runLoad, startNode, until, withSchema } from './support.js';

describe.skipIf(DATABASE_URL === undefined)('cluster: membership changes under load', () => {
  const nodes: NodeProc[] = [];
  afterAll(() => killAll(nodes));

  it('a joining node takes its share by hand-off; a rolling restart of every node loses nothing', async () => {
    const db = await withSchema('c1_members');
    const clients: GatewayClient[] = [];
    try {
      for (const id of ['n1', 'n2']) nodes.push(await startNode(db.schema, id));
      await until('two nodes share the shards', 10_000, async () => (await owners(db.pool, db.schema)).size === 2);
      clients.push(...(await Promise.all(nodes.map((n) => connect(n.gateway, { format: 'msgpack' })))));
      const entities = Array.from({ length: 24 }, (_, i) => `m${i}`);
      // The load goes through n1 and n2's gateways; their nodes restart one at a time, so each
      // client is replaced while its node is away (commands on a closed client fail, unacknowledged).
      const pool = { ask: (...a: Parameters<GatewayClient['ask']>) => (clients[Math.floor(Math.random() * clients.length)] as GatewayClient).ask(...a) };
      const load = runLoad([pool], entities, { concurrency: 12 });
      await until('some commands acknowledged', 10_000, () => load.acked.size >= 100);

      nodes.push(await startNode(db.schema, 'n3'));
      await until('the joiner holds its share (10 or 11 of 32)', 15_000, async () => ((await owners(db.pool, db.schema)).get('n3') ?? 0) >= 10);
      const o = await owners(db.pool, db.schema);
      expect([...o.values()].every((n) => n === 10 || n === 11)).toBe(true);

      // Rolling restart: each node leaves (hands off), then a new process with the same id joins.
      for (let i = 0; i < 3; i++) {
        const old = nodes[i] as NodeProc;
        const acked = load.acked.size;
        old.send('leave');
        await old.next('left');
        await old.exited;
        const fresh = await startNode(db.schema, old.nodeId);
        nodes[i] = fresh;
        if (i < 2) {
          const c = await connect(fresh.gateway, { format: 'msgpack' });
          const stale = clients[i] as GatewayClient;
          clients[i] = c;
          stale.close();
        }
        await until(`${old.nodeId} holds shards again`, 15_000, async () => ((await owners(db.pool, db.schema)).get(old.nodeId) ?? 0) > 0);
        await until('commands go on', 10_000, () => load.acked.size >= acked + 50);
      }

      // A race to activate one new entity: the same first command from every node at once.
      const racers = await Promise.all(nodes.map((n) => connect(n.gateway, { format: 'msgpack' })));
      const raced = await Promise.all(racers.map((c, i) => c.ask('counter', 'race', 'add', { token: `race${i}` })));
      expect([...raced].sort()).toEqual([1, 2, 3]);
      for (const c of racers) c.close();

      const after = performance.now();
      await until('every entity acknowledged at the end', 15_000, () => entities.every((e) => (load.lastAck.get(e) ?? 0) > after));
      await load.stop();
      const check = await checkJournal(db.pool, db.schema);
      const { lost, duplicated } = expectSound(check, new Set([...load.acked, 'race0', 'race1', 'race2']));
      expect(lost).toEqual([]);
      expect(duplicated).toEqual([]);
      expect(check.gaps).toEqual([]);
      expect(check.staleWrites).toEqual([]);
      expect(check.sharedEpochs).toEqual([]);
      console.info(JSON.stringify({ acked: load.acked.size, failed: Object.fromEntries(load.failed) }));
    } finally {
      for (const c of clients) c.close();
      killAll(nodes);
      await db.drop();
    }
  }, 58_000);
});
