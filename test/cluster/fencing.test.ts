// The write fence in the store's own statements, against PostgreSQL: a write under an epoch the
// table no longer holds is refused with SHARD_FENCED and writes nothing; a write for a shard this
// node does not hold fails before any SQL; PGlite refuses to be fenced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, type Store } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { type ClusterNode, shardOf, startClusterNode } from '../../src/cluster/index.js';
import { EntityRuntime } from '../../src/entities/runtime.js';
import { createActorSystem } from '../../src/actors/system.js';
import { DATABASE_URL, until, withSchema } from './support.js';

describe.skipIf(DATABASE_URL === undefined)('the write fence', () => {
  let db: Awaited<ReturnType<typeof withSchema>>;
  let node: ClusterNode;
  let store: Store;
  const system = createActorSystem({ logger: silentLogger });

  beforeAll(async () => {
    db = await withSchema('c1_fence');
    node = await startClusterNode({ connectionString: DATABASE_URL as string, nodeId: 'solo', schema: db.schema, shards: 4, leaseMs: 60_000, tickMs: 100, guardMs: 1000, deadAfterMs: 60_000, logger: silentLogger });
    store = await createStore({ kind: 'postgres', connectionString: DATABASE_URL as string, schema: db.schema, writeFence: node.writeFence, logger: silentLogger });
    node.attach(new EntityRuntime(system, { store }));
    await until('the lone node holds every shard', 10_000, async () => (await node.status()).held.length === 4);
  });

  afterAll(async () => {
    await node?.close();
    await system.stop();
    await store?.close();
    await db?.drop();
  });

  /** Another node takes `pid`'s shard behind this one's back (what a take-over does). */
  async function steal(pid: string): Promise<number> {
    const shard = shardOf(pid, 4);
    await db.pool.query(`UPDATE "${db.schema}".beamstate_cluster_shards SET owner = 'thief', epoch = epoch + 1 WHERE shard = $1`, [shard]);
    return shard;
  }

  it('a journal append under a stolen epoch is refused with SHARD_FENCED, nothing written, the rest of its batch committed', async () => {
    const victim = 'counter|fenced-1';
    const other = [...Array(50).keys()].map((i) => `counter|ok-${i}`).find((p) => shardOf(p, 4) !== shardOf(victim, 4)) as string;
    await store.journal.append(victim, 0, [{ type: 'E', payload: 1 }]);
    await steal(victim);
    const [refused, written] = await Promise.allSettled([
      store.journal.append(victim, 1, [{ type: 'E', payload: 2 }]),
      store.journal.append(other, 0, [{ type: 'E', payload: 3 }]),
    ]);
    expect(refused.status).toBe('rejected');
    expect((refused as PromiseRejectedResult).reason).toMatchObject({ code: 'SHARD_FENCED' });
    expect(written.status).toBe('fulfilled');
    expect(await store.journal.highestSequenceNr(victim)).toBe(1);
    // The node has let the shard go: the next write fails before reaching the database.
    await until('the node dropped the shard', 5000, async () => !(await node.status()).held.some((h) => h.shard === shardOf(victim, 4)));
    await expect(store.journal.append(victim, 1, [{ type: 'E', payload: 4 }])).rejects.toMatchObject({ code: 'SHARD_FENCED' });
    expect(await store.journal.highestSequenceNr(victim)).toBe(1);
  });

  it('a durable-state write under a stolen epoch is refused with SHARD_FENCED and changes nothing', async () => {
    const pids = [...Array(80).keys()].map((i) => `value|v-${i}`);
    const held = new Set((await node.status()).held.map((h) => h.shard));
    const pid = pids.find((p) => held.has(shardOf(p, 4))) as string;
    expect(pid).toBeDefined();
    await store.durableState.upsert(pid, 0, { n: 1 });
    await store.durableState.upsert(pid, 1, { n: 2 });
    await steal(pid);
    await expect(store.durableState.upsert(pid, 2, { n: 3 })).rejects.toMatchObject({ code: 'SHARD_FENCED' });
    expect((await store.durableState.get(pid))?.value).toEqual({ n: 2 });
  });

  it('PGlite cannot be fenced: createStore says so', async () => {
    await expect(createStore({ kind: 'pglite', writeFence: node.writeFence })).rejects.toMatchObject({ code: 'PERSISTENCE_INVALID_ARGUMENT', message: expect.stringMatching(/single-node/) });
  });
});

describe('a cluster node needs PostgreSQL', () => {
  it('refuses anything but a postgres:// URL with CLUSTER_UNSUPPORTED', async () => {
    await expect(startClusterNode({ connectionString: 'pglite://./data' })).rejects.toMatchObject({ code: 'CLUSTER_UNSUPPORTED' });
  });
});
