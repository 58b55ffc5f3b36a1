// runtime.evictWhere, what the cluster calls when a shard is lost or handed off: the entities of
// the shard stop at once, their queued commands fail with the given error, nothing they compute
// afterwards is written, and no actor is left behind, even one evicted before it had started.
import { afterEach, describe, expect, it } from 'vitest';
import { createActorSystem, createStore, EntityRuntime, silentLogger, type Store } from '../../src/index.js';
import { NotShardOwnerError } from '../../src/cluster/index.js';
import { counter } from './fixtures/counter.js';

describe('evictWhere', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  async function setup(): Promise<{ runtime: EntityRuntime; store: Store; type: ReturnType<typeof counter> }> {
    const system = createActorSystem({ logger: silentLogger });
    const store = await createStore({ kind: 'memory' });
    const runtime = new EntityRuntime(system, { store });
    const type = counter(() => 'n', () => 1);
    runtime.register(type);
    cleanup.push(async () => {
      await system.stop();
      await store.close();
    });
    return { runtime, store, type };
  }

  it('fails the commands of an entity evicted before it started, and leaves no actor behind', async () => {
    const { runtime, store, type } = await setup();
    const asked = runtime.ref(type, 'a').ask('add', { token: 't1' });
    const error = new NotShardOwnerError(3, null, 7);
    const gone = runtime.evictWhere((t, id) => t === 'counter' && id === 'a', error);
    await expect(asked).rejects.toBe(error);
    await gone;
    expect(runtime.activeEntities).toBe(0);
    for (let i = 0; i < 100 && (await runtime.supervisorOf(type).countChildren()).active > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect((await runtime.supervisorOf(type).countChildren()).active).toBe(0);
    expect(await store.journal.highestSequenceNr('counter|a')).toBe(0);
    // The entity comes back on its next command, afresh.
    expect(await runtime.ref(type, 'a').ask('add', { token: 't2' })).toBe(1);
  });

  it('stops only the entities chosen; an active one stops and its next command activates it again from the store', async () => {
    const { runtime, type } = await setup();
    await runtime.ref(type, 'a').ask('add', { token: 't1' });
    await runtime.ref(type, 'b').ask('add', { token: 't2' });
    await runtime.evictWhere((_t, id) => id === 'a', new NotShardOwnerError(1, null, 1));
    expect(runtime.activeEntities).toBe(1);
    expect(await runtime.ref(type, 'a').ask('add', { token: 't3' })).toBe(2);
    expect(await runtime.ref(type, 'b').ask('add', { token: 't4' })).toBe(2);
  });
});
