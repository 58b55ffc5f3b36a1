// The recovery-read contract (latest snapshot plus the events after it), run against every backend.
import { describe, expect, it } from 'vitest';
import type { Store } from '../../../src/persistence/index.js';
import { freshId } from '../support.js';

async function appendN(store: Store, pid: string, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) await store.journal.append(pid, i, [{ payload: { n: i + 1 }, type: 'N', metadata: { i } }]);
}

export function recoveryContract(store: () => Store): void {
  describe('recovery reads', () => {
    it('an unknown id has no snapshot and no events', async () => {
      expect(await store().recovery.load(freshId('rec'))).toEqual({ snapshot: undefined, events: [], complete: true });
    });

    it('without a snapshot: every event from the first, as the journal replays them', async () => {
      const pid = freshId('rec');
      await appendN(store(), pid, 5);
      const data = await store().recovery.load(pid);
      expect(data.snapshot).toBeUndefined();
      expect(data.complete).toBe(true);
      expect(data.events).toEqual(await store().journal.read(pid));
    });

    it('with snapshots: the latest one and only the events after it', async () => {
      const pid = freshId('rec');
      await appendN(store(), pid, 9);
      await store().snapshots.save(pid, 3, { at: 3 });
      await store().snapshots.save(pid, 6, { at: 6 }, { type: 'S', metadata: { m: 1 } });
      const data = await store().recovery.load(pid);
      expect(data.snapshot).toMatchObject({ persistenceId: pid, sequenceNr: 6, type: 'S', snapshot: { at: 6 }, metadata: { m: 1 } });
      expect(data.events.map((e) => e.sequenceNr)).toEqual([7, 8, 9]);
      expect(data.events[0]).toMatchObject({ persistenceId: pid, type: 'N', payload: { n: 7 }, metadata: { i: 6 } });
      expect(data.complete).toBe(true);
    });

    it('a snapshot at the highest sequence number leaves no events to replay', async () => {
      const pid = freshId('rec');
      await appendN(store(), pid, 4);
      await store().snapshots.save(pid, 4, 'all of it');
      expect(await store().recovery.load(pid)).toMatchObject({ snapshot: { sequenceNr: 4, snapshot: 'all of it' }, events: [], complete: true });
    });

    it('stops at maxEvents and says there is more', async () => {
      const pid = freshId('rec');
      await appendN(store(), pid, 7);
      const part = await store().recovery.load(pid, { maxEvents: 5 });
      expect(part.events.map((e) => e.sequenceNr)).toEqual([1, 2, 3, 4, 5]);
      expect(part.complete).toBe(false);
      const exact = await store().recovery.load(pid, { maxEvents: 7 });
      expect(exact.events).toHaveLength(7);
      expect(exact.complete).toBe(true);
    });

    it('skips deleted events', async () => {
      const pid = freshId('rec');
      await appendN(store(), pid, 6);
      await store().journal.deleteTo(pid, 4);
      expect((await store().recovery.load(pid)).events.map((e) => e.sequenceNr)).toEqual([5, 6]);
    });

    it('many concurrent loads (also of the same id, with different bounds) each get their own data', async () => {
      const pids = Array.from({ length: 40 }, () => freshId('rec'));
      await Promise.all(pids.map((pid, i) => appendN(store(), pid, (i % 5) + 1)));
      await Promise.all(pids.filter((_, i) => i % 3 === 0).map((pid) => store().snapshots.save(pid, 1, { snap: pid })));
      const loads = await Promise.all([...pids, pids[4] as string].map((pid, i) => store().recovery.load(pid, { maxEvents: i === 40 ? 1 : 100 })));
      pids.forEach((pid, i) => {
        const data = loads[i];
        const snapshotted = i % 3 === 0;
        expect(data?.snapshot?.snapshot).toEqual(snapshotted ? { snap: pid } : undefined);
        const from = snapshotted ? 2 : 1;
        expect(data?.events.map((e) => e.sequenceNr)).toEqual(Array.from({ length: (i % 5) + 1 - from + 1 }, (_, k) => from + k));
        expect(data?.events.every((e) => e.persistenceId === pid)).toBe(true);
      });
      expect(loads[40]).toMatchObject({ complete: false, events: [expect.objectContaining({ sequenceNr: 1 })] });
    });

    it('refuses bad arguments with PERSISTENCE_INVALID_ARGUMENT', async () => {
      await expect(store().recovery.load('')).rejects.toMatchObject({ code: 'PERSISTENCE_INVALID_ARGUMENT' });
      await expect(store().recovery.load('x', { maxEvents: 0 })).rejects.toMatchObject({ code: 'PERSISTENCE_INVALID_ARGUMENT' });
    });
  });
}
