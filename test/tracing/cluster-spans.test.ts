// Traces across two cluster nodes in this process (real PostgreSQL): a command sent to node A's
// gateway for an entity node B owns is forwarded with A's span as its parent; one A owns stays
// in A's trace through the router.
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNode, shardOf, startClusterNode } from '../../src/cluster/index.js';
import { connect, createActorSystem, createGateway, createStore, EntityRuntime, type Gateway, type GatewayClient, silentLogger, type Store } from '../../src/index.js';
import type { ActorSystem } from '../../src/index.js';
import { SpanName } from '../../src/tracing/tracing.js';
import { DATABASE_URL, until, withSchema } from '../cluster/support.js';
import { counter } from '../gateway/support.js';

const SHARDS = 8;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

interface Member {
  node: ClusterNode;
  system: ActorSystem;
  store: Store;
  gateway: Gateway;
  exporter: InMemorySpanExporter;
  provider: BasicTracerProvider;
}

describe.skipIf(DATABASE_URL === undefined)('traces across cluster nodes', () => {
  let db: Awaited<ReturnType<typeof withSchema>>;
  const members: Member[] = [];
  let client: GatewayClient | undefined;

  async function member(nodeId: string): Promise<Member> {
    const node = await startClusterNode({ connectionString: DATABASE_URL as string, nodeId, schema: db.schema, shards: SHARDS, leaseMs: 1500, tickMs: 100, guardMs: 500, deadAfterMs: 60_000, logger: silentLogger });
    const store = await createStore({ kind: 'postgres', connectionString: DATABASE_URL as string, schema: db.schema, writeFence: node.writeFence, logger: silentLogger });
    const system = createActorSystem({ logger: silentLogger });
    const runtime = new EntityRuntime(system, { store });
    runtime.register(counter);
    node.attach(runtime);
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const gateway = await createGateway({ runtime, port: 0, heartbeat: false, tracing: { tracerProvider: provider } });
    const m = { node, system, store, gateway, exporter, provider };
    members.push(m);
    return m;
  }

  beforeAll(async () => {
    db = await withSchema('otel_cluster');
    await member('a');
    await member('b');
    await until('each node holds shards, all held', 20_000, async () => {
      const [sa, sb] = await Promise.all(members.map((m) => m.node.status()));
      return (sa?.held.length ?? 0) > 0 && (sb?.held.length ?? 0) > 0 && (sa?.held.length ?? 0) + (sb?.held.length ?? 0) === SHARDS;
    });
  }, 40_000);

  afterAll(async () => {
    await client?.close();
    for (const m of members) await m.gateway.close();
    for (const m of members) await m.node.close();
    for (const m of members) {
      await m.system.stop();
      await m.store.close();
      await m.provider.shutdown();
    }
    await db?.drop();
  }, 30_000);

  it('a forwarded command: B records beamstate.cluster.command, child of A\'s gateway span, with the handler and commit under it; a local one stays under A\'s span', async () => {
    const [a, b] = members as [Member, Member];
    const heldByB = new Set((await b.node.status()).held.map((h) => h.shard));
    const remoteId = Array.from({ length: 200 }, (_, i) => `e${i}`).find((id) => heldByB.has(shardOf(`counter|${id}`, SHARDS))) as string;
    const localId = Array.from({ length: 200 }, (_, i) => `e${i}`).find((id) => !heldByB.has(shardOf(`counter|${id}`, SHARDS))) as string;
    expect(remoteId).toBeDefined();
    expect(localId).toBeDefined();
    client = await connect(a.gateway.url as string, { heartbeatMs: false });
    expect(await client.ask('counter', remoteId, 'add', { n: 1 }, { traceparent: `00-${TRACE_ID}-00000000000000a1-01`, timeout: 10_000 })).toBe(1);
    expect(await client.ask('counter', localId, 'add', { n: 2 }, { traceparent: `00-${TRACE_ID}-00000000000000a2-01`, timeout: 10_000 })).toBe(2);

    const aSpans = a.exporter.getFinishedSpans();
    const bSpans = b.exporter.getFinishedSpans();
    const gatewaySpan = (id: string): ReadableSpan => aSpans.find((s) => s.name === SpanName.command && s.attributes['beamstate.entity.id'] === id) as ReadableSpan;
    const remote = gatewaySpan(remoteId);
    const local = gatewaySpan(localId);
    expect(remote.parentSpanContext?.spanId).toBe('00000000000000a1');
    expect(local.parentSpanContext?.spanId).toBe('00000000000000a2');

    // Forwarded: B's server span is the child of A's; the handler and commit ran on B, under it.
    const forwarded = bSpans.filter((s) => s.name === SpanName.forwarded);
    expect(forwarded).toHaveLength(1);
    const fw = forwarded[0] as ReadableSpan;
    expect(fw.spanContext().traceId).toBe(TRACE_ID);
    expect(fw.parentSpanContext?.spanId).toBe(remote.spanContext().spanId);
    expect(fw.attributes).toMatchObject({ 'beamstate.entity.id': remoteId, 'beamstate.command': 'add' });
    for (const name of [SpanName.handle, SpanName.commit]) {
      const spans = bSpans.filter((s) => s.name === name);
      expect(spans.map((s) => s.parentSpanContext?.spanId), name).toEqual([fw.spanContext().spanId]);
    }
    // The reply went from A, under A's span.
    expect(aSpans.filter((s) => s.name === SpanName.reply && s.parentSpanContext?.spanId === remote.spanContext().spanId)).toHaveLength(1);

    // Local: handled on A through the router, under A's span; B saw nothing of it.
    for (const name of [SpanName.handle, SpanName.commit, SpanName.reply]) {
      expect(aSpans.filter((s) => s.name === name && s.parentSpanContext?.spanId === local.spanContext().spanId), name).toHaveLength(1);
    }
    expect(bSpans.filter((s) => s.attributes['beamstate.entity.id'] === localId)).toHaveLength(0);
  }, 30_000);
});
