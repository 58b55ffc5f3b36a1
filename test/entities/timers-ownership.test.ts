// The timer service under a cluster's ownership hook (memory store, manual clock): it claims only
// the timers of the shards the hook lists, none while it lists none, the others as soon as it is
// told it took them; and a delivery that fails because the entity's shard moved is given back
// unfired, not counted as an attempt, and fired later with the same delivery id.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createActorSystem, EntityRuntime, eventSourcedEntity, ManualClock, silentLogger } from '../../src/index.js';
import { NotShardOwnerError, shardOf } from '../../src/cluster/index.js';
import { createStore } from '../../src/persistence/index.js';
import { until } from './support.js';

const T0 = Date.UTC(2030, 0, 1);
const SHARDS = 4;
let openGate: () => void = () => {};

const ticker = eventSourcedEntity('tk')
  .initialState(() => ({ fired: [] as string[] }))
  .events<{ type: 'F'; id: string }>({ F: (s, e) => ({ fired: [...s.fired, e.id] }) })
  .command('arm', z.object({ at: z.number() }), (_s, { at }, ctx) => {
    ctx.schedule('t', { at }, 'fire');
    return ctx.reply('armed');
  })
  .command('fire', (_s, _i, ctx) => ctx.emit({ type: 'F', id: ctx.timer?.deliveryId ?? 'by hand' }).reply('fired'))
  .command('block', async (_s, _i, ctx) => {
    await new Promise<void>((resolve) => (openGate = resolve));
    return ctx.reply('done');
  })
  .command('get', (s, _i, ctx) => ctx.reply(s.fired));

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

async function setup() {
  const clock = new ManualClock({ wall: T0 });
  const system = createActorSystem({ clock, logger: silentLogger });
  const store = await createStore({ kind: 'memory' });
  const runtime = new EntityRuntime(system, { store, timers: { pollIntervalMs: 100, leaseMs: 10_000, deliveryTimeoutMs: 5000 } });
  runtime.register(ticker);
  let owned: number[] = [];
  runtime.timers.ownership = { count: SHARDS, owned: () => owned };
  stops.push(async () => {
    await system.stop();
    await store.close();
  });
  const advance = async (ms: number): Promise<void> => {
    clock.advance(ms);
    await runtime.timers.idle();
  };
  return { clock, runtime, store, own: (s: number[]) => (owned = s), advance };
}

const shard = (id: string): number => shardOf(`tk|${id}`, SHARDS);

describe('durable timers under a cluster ownership hook', () => {
  it('claims only the owned shards’ timers, none with no shard, the rest once their shards are taken', async () => {
    const { runtime, store, own, advance } = await setup();
    const ids = Array.from({ length: 24 }, (_, i) => `e${i}`);
    for (const id of ids) await runtime.ref(ticker, id).ask('arm', { at: T0 + 10 });
    await advance(10);
    await advance(100);
    expect(runtime.timers.stats().fired).toBe(0);
    expect((await store.timers.list()).filter((t) => t.claimed)).toEqual([]);
    own([0, 1]);
    runtime.timers.ownershipChanged();
    await runtime.timers.idle();
    const first = ids.filter((id) => shard(id) <= 1);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(ids.length);
    expect(runtime.timers.stats().fired).toBe(first.length);
    for (const id of ids) expect(((await runtime.ref(ticker, id).ask('get')) as string[]).length, id).toBe(shard(id) <= 1 ? 1 : 0);
    expect((await store.timers.list()).map((t) => t.entityId).sort()).toEqual(ids.filter((id) => shard(id) > 1).sort());
    expect((await store.timers.list()).filter((t) => t.claimed)).toEqual([]);
    // Taken at the next poll, without being told.
    own([0, 1, 2, 3]);
    await advance(100);
    expect(runtime.timers.stats()).toMatchObject({ fired: ids.length, failed: 0 });
    expect(await store.timers.list()).toEqual([]);
  });

  it('a delivery whose shard moved is given back unfired, no attempt counted, and fires later with the same delivery id', async () => {
    const { clock, runtime, store, own, advance } = await setup();
    const id = 'moved';
    own([shard(id)]);
    const ref = runtime.ref(ticker, id);
    await ref.ask('arm', { at: T0 + 10 });
    const [timer] = await store.timers.list();
    // The entity is busy: the delivery queues behind `block`.
    const blocked = ref.ask('block', undefined, { timeout: 60_000 }).catch((err: unknown) => err);
    clock.advance(10); // not advance(): its idle() would wait for the blocked delivery
    await until(() => runtime.timers.stats().inFlight === 1, 'the delivery');
    // The shard is lost: the node stops listing it and evicts its entities (as the cluster node does).
    own([]);
    await Promise.all([runtime.evictWhere(() => true, new NotShardOwnerError(shard(id), 'other', 2)), Promise.resolve().then(() => openGate())]);
    await blocked;
    await runtime.timers.idle();
    expect(runtime.timers.stats()).toMatchObject({ fired: 0, failed: 0, inFlight: 0 });
    expect(await store.timers.list()).toMatchObject([{ name: 't', attempts: 0, claimed: false, scheduleId: timer?.scheduleId, dueAt: T0 + 10 }]);
    await advance(500);
    expect(runtime.timers.stats().fired).toBe(0); // not this node's any more
    own([shard(id)]);
    runtime.timers.ownershipChanged();
    await runtime.timers.idle();
    expect(runtime.timers.stats()).toMatchObject({ fired: 1, failed: 0 });
    expect(await ref.ask('get')).toEqual([`${timer?.scheduleId}:${T0 + 10}`]);
    expect(await store.timers.list()).toEqual([]);
  });
});
