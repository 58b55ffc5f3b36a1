import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/gateway/index.js';
import { checkJournal, DATABASE_URL, killAll, type NodeProc, startNode, withSchema } from './support.js';

describe.skipIf(DATABASE_URL === undefined)('cluster smoke', () => {
  const nodes: NodeProc[] = [];
  afterAll(() => killAll(nodes));

  it('three nodes split the shards; a command sent to any node runs once, on the owner', async () => {
    const db = await withSchema('c1_smoke');
    try {
      for (const id of ['n1', 'n2', 'n3']) nodes.push(await startNode(db.schema, id));
      const clients = await Promise.all(nodes.map((n) => connect(n.gateway, { format: 'msgpack' })));
      let k = 0;
      for (let round = 0; round < 20; round++) {
        await Promise.all(clients.map((c, i) => c.ask('counter', `e${(round * 3 + i) % 10}`, 'add', { token: `t${k++}` })));
      }
      const check = await checkJournal(db.pool, db.schema);
      expect(check.events).toBe(60);
      expect([...check.tokens.values()].every((n) => n === 1)).toBe(true);
      expect(check.gaps).toEqual([]);
      for (const c of clients) c.close();
    } finally {
      killAll(nodes);
      await db.drop();
    }
  }, 30_000);
});
