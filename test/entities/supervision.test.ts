import { describe, expect, it } from 'vitest';
import { counter, harness, openStore, until } from './support.js';

describe('entities under supervision', () => {
  it('each entity type runs under a dynamic supervisor: its entities are its children', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    for (const id of ['a', 'b', 'c']) await h.runtime.ref(counter, id).ask('add', { n: 1 });
    const sup = h.runtime.supervisorOf(counter);
    expect(await sup.countChildren()).toMatchObject({ active: 3, workers: 3 });
    const children = await sup.whichChildren();
    expect(children.every((c) => c.status === 'running')).toBe(true);
  });

  it('a crash is restarted by the supervisor after the backoff, reported on the inspection stream', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter, { backoff: { minMs: 100, maxMs: 100, randomFactor: 0 } });
    const ref = h.runtime.ref(counter, 'x');
    await ref.ask('add', { n: 3 });
    const crashed = ref.ask('crash').catch((e: { code: string }) => e.code);
    await until(() => h.events.some((e) => e.type === 'supervisor.child-exited'), 'the child exit report');
    h.clock.advance(99);
    await h.system.whenIdle();
    expect(h.events.filter((e) => e.type === 'supervisor.child-restarted')).toHaveLength(0);
    h.clock.advance(1);
    await until(() => h.events.some((e) => e.type === 'supervisor.child-restarted'), 'the restart');
    h.clock.advance(100);
    await until(() => h.events.filter((e) => e.type === 'supervisor.child-restarted').length === 2, 'the second restart');
    h.clock.advance(100);
    expect(await crashed).toBe('POISON_COMMAND');
    expect(await ref.ask('get')).toBe(3);
  });

  it('more crashes than the intensity allows make the type supervisor give up; the next command starts afresh', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store, { supervision: { intensity: 1, periodMs: 10_000 } });
    h.runtime.register(counter, { backoff: { minMs: 1, maxMs: 1, randomFactor: 0 }, maxCommandAttempts: 5 });
    const ref = h.runtime.ref(counter, 'y');
    await ref.ask('add', { n: 2 });
    const crashed = ref.ask('crash').catch((e: { code: string }) => e.code);
    for (let i = 0; i < 3; i++) {
      await h.system.whenIdle();
      h.clock.advance(1);
    }
    expect(await crashed).toBe('ENTITY_STOPPED');
    expect(h.events.some((e) => e.type === 'supervisor.escalated')).toBe(true);
    expect(await ref.ask('get')).toBe(2); // a new supervisor, the state from the journal
  });

  it('system.stop() lets queued commands finish before the supervisors stop the entities', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    h.runtime.register(counter);
    const ref = h.runtime.ref(counter, 'z');
    const commands = Array.from({ length: 50 }, () => ref.ask('add', { n: 1 }));
    await h.system.stop();
    const results = await Promise.allSettled(commands);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(await store.journal.highestSequenceNr('counter|z')).toBe(50);
    await expect(ref.ask('get')).rejects.toMatchObject({ code: 'ENTITY_STOPPED' });
  });
});
