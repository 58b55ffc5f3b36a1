// The client given every node's gateway: it connects to the first that opens, and when its node
// is killed it reconnects to another and goes on (its requests in flight at the kill fail with
// CONNECTION_LOST, unacknowledged; the rest are answered).
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/gateway/index.js';
import { checkJournal, DATABASE_URL, expectSound, killAll, type NodeProc, owners, startNode, until, withSchema } from './support.js';

describe.skipIf(DATABASE_URL === undefined)('cluster: a client with several gateway URLs', () => {
  const nodes: NodeProc[] = [];
  afterAll(() => killAll(nodes));

  it('skips a dead URL, and fails over to another node when its own is killed', async () => {
    const db = await withSchema('c1_failover');
    try {
      for (const id of ['n1', 'n2']) nodes.push(await startNode(db.schema, id));
      await until('two nodes share the shards', 10_000, async () => (await owners(db.pool, db.schema)).size === 2);
      // A URL nobody listens on first: skipped.
      const client = await connect(['ws://127.0.0.1:1/', nodes[0]!.gateway, nodes[1]!.gateway], {
        format: 'msgpack',
        reconnect: { minMs: 20, maxMs: 200, maxAttempts: 50 },
      });
      expect(client.url).toBe(nodes[0]!.gateway);
      const acked = new Set<string>();
      for (let i = 0; i < 20; i++) {
        await client.ask('counter', `f${i % 5}`, 'add', { token: `a${i}` });
        acked.add(`a${i}`);
      }
      nodes[0]!.child.kill('SIGKILL');
      let failed = 0;
      for (let i = 0; i < 40; i++) {
        try {
          await client.ask('counter', `f${i % 5}`, 'add', { token: `b${i}` }, { timeout: 10_000 });
          acked.add(`b${i}`);
        } catch {
          failed++;
        }
      }
      expect(client.url).toBe(nodes[1]!.gateway);
      expect(acked.size).toBeGreaterThanOrEqual(20 + 40 - 2);
      client.close();
      const check = await checkJournal(db.pool, db.schema);
      const { lost, duplicated } = expectSound(check, acked);
      expect(lost).toEqual([]);
      expect(duplicated).toEqual([]);
      expect(check.gaps).toEqual([]);
      expect(failed).toBeLessThanOrEqual(2);
    } finally {
      killAll(nodes);
      await db.drop();
    }
  }, 50_000);
});
