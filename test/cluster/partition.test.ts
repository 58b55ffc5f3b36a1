// Node-to-node traffic cut while every node still reaches PostgreSQL: a TCP proxy we control sits
// in front of one node's internal endpoint. During the cut, commands forwarded to it fail (after
// their deadline) rather than run twice or elsewhere: it still holds its leases, so no one else
// may take its shards; its own gateway serves them. Healed, forwarding works again.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/gateway/index.js';
import { checkJournal, DATABASE_URL, expectSound, FAST, killAll, type NodeProc, owners, runLoad, startNode, until, withSchema } from './support.js';

/** A TCP proxy to `target` that can cut every connection and refuse new ones until healed. */
function proxy(): { port: Promise<number>; setTarget(port: number): void; cut(): void; heal(): void; close(): void } {
  let target = 0;
  let open = true;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (!open || target === 0) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const port = new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  return {
    port,
    setTarget: (p) => (target = p),
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    heal: () => (open = true),
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

describe.skipIf(DATABASE_URL === undefined)('cluster: node-to-node traffic cut, the database still reachable', () => {
  const nodes: NodeProc[] = [];
  const px = proxy();
  afterAll(() => {
    killAll(nodes);
    px.close();
  });

  it('fails forwarded commands instead of running them twice or elsewhere, and forwards again when healed', async () => {
    const db = await withSchema('c1_partition');
    try {
      for (const id of ['n1', 'n2']) nodes.push(await startNode(db.schema, id));
      const peerPort = await freePort();
      px.setTarget(peerPort);
      nodes.push(await startNode(db.schema, 'n3', { ...FAST, peerPort, advertise: `ws://127.0.0.1:${await px.port}` }));
      await until('the shards are spread over the three nodes', 10_000, async () => (await owners(db.pool, db.schema)).size === 3);
      const [c1, c2, c3] = await Promise.all(nodes.map((n) => connect(n.gateway, { format: 'msgpack' })));
      const entities = Array.from({ length: 24 }, (_, i) => `x${i}`);
      const load = runLoad([c1!, c2!], entities, { concurrency: 12 });
      await until('some commands acknowledged', 10_000, () => load.acked.size >= 150);
      const heldBefore = (await owners(db.pool, db.schema)).get('n3') ?? 0;
      px.cut();
      const cutAt = performance.now();
      // During the cut: n3 keeps its shards (its leases are renewed over the database), and its
      // own gateway still serves (only traffic into n3's endpoint is cut).
      const own = await c3!.ask('counter', 'x-local', 'add', { token: 'local-during-cut' });
      expect(own).toBeGreaterThanOrEqual(1);
      await until('the cut lasted more than a lease', 10_000, async () => performance.now() - cutAt > FAST.leaseMs * 2);
      expect((await owners(db.pool, db.schema)).get('n3')).toBe(heldBefore);
      px.heal();
      const healedAt = performance.now();
      await until('every entity acknowledged after healing', 15_000, () => entities.every((e) => (load.lastAck.get(e) ?? 0) > healedAt));
      await load.stop();
      for (const c of [c1, c2, c3]) c?.close();
      const check = await checkJournal(db.pool, db.schema);
      const { lost, duplicated } = expectSound(check, new Set([...load.acked, 'local-during-cut']));
      expect(lost).toEqual([]);
      expect(duplicated).toEqual([]);
      expect(check.gaps).toEqual([]);
      expect(check.staleWrites).toEqual([]);
      expect(check.sharedEpochs).toEqual([]);
      // Commands to n3's entities sent through n1/n2 failed during the cut (no second owner ran them).
      expect(load.failed.get('CLUSTER_UNAVAILABLE') ?? 0).toBeGreaterThan(0);
      console.info(JSON.stringify({ acked: load.acked.size, failed: Object.fromEntries(load.failed) }));
    } finally {
      killAll(nodes);
      await db.drop();
    }
  }, 58_000);
});
