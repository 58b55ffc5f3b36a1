import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventSourcedEntity } from '../../src/index.js';
import { activations, backends, counter, harness, heldSnapshotSaves, openStore, until } from './support.js';

describe.each(backends)('recovery on %s', (backend) => {
  it('a crash in the middle of a command sequence costs nothing: same state after the restart', async () => {
    const { store } = await openStore(backend);
    const h = await harness(store);
    h.runtime.register(counter, { backoff: { minMs: 50, maxMs: 50, randomFactor: 0 } });
    const ref = h.runtime.ref(counter, 'crashy');
    for (let i = 1; i <= 5; i++) await ref.ask('add', { n: i });
    const crashed = ref.ask('crash');
    const queuedBehind = ref.ask('add', { n: 100 });
    let settled = false;
    void queuedBehind.finally(() => (settled = true));
    // The crashing command stays at the head of the queue: each restart (after the backoff)
    // reloads the state from the journal and tries it again, until it is dropped as poison
    // after maxCommandAttempts (3); the command queued behind it waits its turn, in order.
    for (let restarts = 0; restarts < 3; restarts++) {
      await until(() => h.events.filter((e) => e.type === 'actor.stopped' && e.reason instanceof Error).length === restarts + 1, `crash ${restarts + 1}`);
      expect(settled).toBe(false);
      h.clock.advance(50);
    }
    await expect(crashed).rejects.toMatchObject({ code: 'POISON_COMMAND', attempts: 3, cause: new Error('boom') });
    expect(await queuedBehind).toBe(115);
    expect(await ref.ask('get')).toBe(115);
    expect(activations(h.events, 'crashy').map((a) => a.sequenceNr)).toEqual([0, 5, 5, 5]);
  });

  it('recovers from the latest snapshot plus the events after it', async () => {
    const { store } = await openStore(backend);
    const h = await harness(store);
    h.runtime.register(counter, { snapshotEvery: 4, snapshotKeep: 1 });
    const ref = h.runtime.ref(counter, 'snappy');
    for (let i = 1; i <= 10; i++) await ref.ask('add', { n: i });
    await until(() => h.events.filter((e) => e.type === 'entity.snapshot').length === 2, 'two snapshots (at 4 and 8)');
    expect(h.events.filter((e) => e.type === 'entity.snapshot').map((e) => (e as { sequenceNr: number }).sequenceNr)).toEqual([4, 8]);
    expect((await store.snapshots.loadLatest('counter|snappy'))?.sequenceNr).toBe(8);
    expect(await store.snapshots.loadLatest('counter|snappy', { maxSequenceNr: 7 })).toBeUndefined(); // kept the last 1 only

    const h2 = await h.restart();
    h2.runtime.register(counter, { snapshotEvery: 4 });
    expect(await h2.runtime.ref(counter, 'snappy').ask('get')).toBe(55);
    expect(activations(h2.events, 'snappy')[0]).toMatchObject({ sequenceNr: 10, fromSnapshot: true, replayed: 2 });
  });
});

describe('long histories', () => {
  it('an entity with more events than one recovery read holds comes back whole', async () => {
    const { store } = await openStore('memory');
    for (let i = 0; i < 2500; i += 100) {
      await store.journal.append('counter|long', i, Array.from({ length: 100 }, () => ({ payload: { type: 'Added', n: 1 }, type: 'Added' })));
    }
    const h = await harness(store);
    h.runtime.register(counter, { snapshotEvery: 0 });
    expect(await h.runtime.ref(counter, 'long').ask('get')).toBe(2500);
    expect(activations(h.events, 'long')[0]).toMatchObject({ sequenceNr: 2500, replayed: 2500, fromSnapshot: false });
    expect(await h.runtime.ref(counter, 'long').ask('add', { n: 1 })).toBe(2501);
  });
});

describe('side effects', () => {
  it('run after the write commits, in order, and are not run again on recovery', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const log: string[] = [];
    const notifier = eventSourcedEntity('notifier')
      .initialState(() => [] as string[])
      .events<{ type: 'Noted'; text: string }>({ Noted: (s, e) => [...s, e.text] })
      .command('note', z.object({ text: z.string() }), (_s, { text }, ctx) =>
        ctx
          .emit({ type: 'Noted', text })
          .thenRun(async (s) => {
            await Promise.resolve();
            log.push(`sent ${text} (${s.length} notes)`);
          })
          .thenRun(() => void log.push(`then ${text}`))
          .thenReply((s) => s.length),
      );
    h.runtime.register(notifier);
    const ref = h.runtime.ref(notifier, 'n');
    expect(await ref.ask('note', { text: 'a' })).toBe(1);
    expect(await ref.ask('note', { text: 'b' })).toBe(2);
    expect(log).toEqual(['sent a (1 notes)', 'then a', 'sent b (2 notes)', 'then b']);

    const h2 = await h.restart();
    h2.runtime.register(notifier);
    expect(await h2.runtime.ref(notifier, 'n').ask('note', { text: 'c' })).toBe(3);
    expect(log).toEqual(['sent a (1 notes)', 'then a', 'sent b (2 notes)', 'then b', 'sent c (3 notes)', 'then c']);
  });

  it('do not run when the command fails, and a failing side effect does not fail the command', async () => {
    const { store } = await openStore('memory');
    const h = await harness(store);
    const ran: string[] = [];
    const e = eventSourcedEntity('effects')
      .initialState(() => 0)
      .events<{ type: 'Inc' }>({ Inc: (n) => n + 1 })
      .command('ok', (_s, _i, ctx) =>
        ctx
          .emit({ type: 'Inc' })
          .thenRun(() => {
            throw new Error('mail server down');
          })
          .thenRun(() => void ran.push('second step still runs'))
          .thenReply((n) => n),
      )
      .command('refused', (_s, _i, ctx) => ctx.fail('no'));
    h.runtime.register(e);
    const ref = h.runtime.ref(e, 'x');
    expect(await ref.ask('ok')).toBe(1);
    expect(ran).toEqual(['second step still runs']);
    await expect(ref.ask('refused')).rejects.toMatchObject({ code: 'COMMAND_FAILED' });
  });
});

describe('snapshots while one is being saved', () => {
  it('a boundary crossed while the previous snapshot is being saved leads to a snapshot (of the latest state) once that save is done', async () => {
    const { store: base } = await openStore('memory');
    const snaps = heldSnapshotSaves(base);
    const h = await harness(snaps.store);
    const every = 3;
    h.runtime.register(counter, { snapshotEvery: every, snapshotKeep: 2 });
    const ref = h.runtime.ref(counter, 'busy-snapshots');
    for (let i = 1; i <= 3; i++) await ref.ask('add', { n: 1 });
    await until(() => snaps.held.length === 1, 'the snapshot at 3 to be asked for');
    // While it is held, two more boundaries are crossed (6 and 9), and then some.
    for (let i = 4; i <= 10; i++) await ref.ask('add', { n: 1 });
    await h.system.whenIdle();
    expect(snaps.saves).toEqual([3]); // one at a time
    snaps.held.shift()?.go();
    // The crossed boundaries make one save, of the state when the first save was done: 10.
    await until(() => snaps.held.length === 1, 'the follow-up snapshot');
    expect(snaps.saves).toEqual([3, 10]);
    snaps.held.shift()?.go();
    await until(() => h.events.filter((e) => e.type === 'entity.snapshot').length === 2, 'both snapshots saved');
    expect(h.events.filter((e) => e.type === 'entity.snapshot').map((e) => (e as { sequenceNr: number }).sequenceNr)).toEqual([3, 10]);
    await ref.ask('add', { n: 1 }); // 11: no boundary, no snapshot
    // Recovery replays no more than snapshotEvery events (it would replay 8, from 3, without the follow-up).
    const h2 = await h.restart();
    h2.runtime.register(counter, { snapshotEvery: every });
    expect(await h2.runtime.ref(counter, 'busy-snapshots').ask('get')).toBe(11);
    const [activation] = activations(h2.events, 'busy-snapshots');
    expect(activation).toMatchObject({ sequenceNr: 11, fromSnapshot: true, replayed: 1 });
    expect(activation?.replayed).toBeLessThanOrEqual(every);
    expect(snaps.saves).toEqual([3, 10]);
  });

  it('one boundary crossed meanwhile is not lost when the entity is passivated before the running save ends', async () => {
    const { store: base } = await openStore('memory');
    const snaps = heldSnapshotSaves(base);
    const h = await harness(snaps.store);
    h.runtime.register(counter, { snapshotEvery: 2, idleTimeoutMs: 100 });
    const ref = h.runtime.ref(counter, 'gone');
    for (let i = 1; i <= 4; i++) await ref.ask('add', { n: 1 });
    await until(() => snaps.held.length === 1, 'the snapshot at 2');
    h.clock.advance(100);
    await until(() => h.events.some((e) => e.type === 'entity.passivated'), 'passivation');
    snaps.held.shift()?.go();
    await until(() => snaps.held.length === 1, 'the follow-up snapshot');
    snaps.held.shift()?.go();
    await until(() => h.events.filter((e) => e.type === 'entity.snapshot').length === 2, 'both saved');
    expect(snaps.saves).toEqual([2, 4]);
    expect((await base.snapshots.loadLatest('counter|gone'))?.sequenceNr).toBe(4);
  });
});
