// The snapshot-store contract, run against every backend.
import { describe, expect, it } from 'vitest';
import type { Store } from '../../../src/persistence/index.js';
import { freshId } from '../support.js';

export function snapshotContract(store: () => Store): void {
  describe('snapshot store', () => {
    it('has nothing for an unknown id', async () => {
      expect(await store().snapshots.loadLatest(freshId('snap'))).toBeUndefined();
      expect(await store().snapshots.delete(freshId('snap'), {})).toBe(0);
      expect(await store().snapshots.keepLast(freshId('snap'), 1)).toBe(0);
    });

    it('loads the latest snapshot with its type, metadata and timestamp', async () => {
      const pid = freshId('snap');
      const saved = await store().snapshots.save(pid, 10, { total: 10 }, { type: 'Cart', metadata: { by: 'test' } });
      expect(saved).toMatchObject({ persistenceId: pid, sequenceNr: 10 });
      await store().snapshots.save(pid, 20, { total: 20 }, { type: 'Cart' });
      await store().snapshots.save(pid, 15, { total: 15 });
      const latest = await store().snapshots.loadLatest(pid);
      expect(latest).toMatchObject({ persistenceId: pid, sequenceNr: 20, type: 'Cart', snapshot: { total: 20 }, metadata: undefined });
      const ten = await store().snapshots.loadLatest(pid, { maxSequenceNr: 14 });
      expect(ten).toMatchObject({ sequenceNr: 10, type: 'Cart', metadata: { by: 'test' }, timestamp: saved.timestamp });
      expect((await store().snapshots.loadLatest(pid, { maxSequenceNr: 19 }))?.type).toBe('');
    });

    it('replaces a snapshot saved again at the same sequence number', async () => {
      const pid = freshId('snap');
      await store().snapshots.save(pid, 5, { v: 'first' }, { type: 'A', metadata: { m: 1 }, timestamp: 1000 });
      await store().snapshots.save(pid, 5, { v: 'second' }, { type: 'B', timestamp: 2000 });
      const s = await store().snapshots.loadLatest(pid);
      expect(s).toMatchObject({ sequenceNr: 5, snapshot: { v: 'second' }, type: 'B', metadata: undefined, timestamp: 2000 });
      expect(await store().snapshots.delete(pid, {})).toBe(1);
    });

    it('selects by sequence-number and timestamp criteria', async () => {
      const pid = freshId('snap');
      for (const [seq, ts] of [
        [1, 1000],
        [2, 2000],
        [3, 3000],
        [4, 4000],
      ] as const) {
        await store().snapshots.save(pid, seq, { seq }, { timestamp: ts });
      }
      const latest = async (c: Parameters<Store['snapshots']['loadLatest']>[1]): Promise<number | undefined> =>
        (await store().snapshots.loadLatest(pid, c))?.sequenceNr;
      expect(await latest({})).toBe(4);
      expect(await latest({ maxSequenceNr: 3 })).toBe(3);
      expect(await latest({ maxTimestamp: 2500 })).toBe(2);
      expect(await latest({ maxTimestamp: 2000 })).toBe(2);
      expect(await latest({ minSequenceNr: 2, maxSequenceNr: 2 })).toBe(2);
      expect(await latest({ minTimestamp: 4001 })).toBeUndefined();
      expect(await latest({ maxSequenceNr: 0 })).toBeUndefined();
      expect(await latest({ minSequenceNr: 3, maxTimestamp: 2000 })).toBeUndefined();
      expect(await latest({ maxSequenceNr: Infinity, maxTimestamp: Infinity })).toBe(4);
      expect(await latest({ minSequenceNr: 3, maxSequenceNr: 1 })).toBeUndefined();
    });

    it('deletes by criteria and reports how many', async () => {
      const pid = freshId('snap');
      for (let seq = 1; seq <= 6; seq++) await store().snapshots.save(pid, seq, seq, { timestamp: seq * 1000 });
      expect(await store().snapshots.delete(pid, { maxSequenceNr: 2 })).toBe(2);
      expect(await store().snapshots.delete(pid, { minTimestamp: 6000 })).toBe(1);
      expect(await store().snapshots.delete(pid, { minSequenceNr: 4, maxSequenceNr: 4 })).toBe(1);
      expect(await store().snapshots.delete(pid, { maxSequenceNr: 2 })).toBe(0);
      expect((await store().snapshots.loadLatest(pid))?.sequenceNr).toBe(5);
      expect((await store().snapshots.loadLatest(pid, { maxSequenceNr: 4 }))?.sequenceNr).toBe(3);
      expect(await store().snapshots.delete(pid, {})).toBe(2);
      expect(await store().snapshots.loadLatest(pid)).toBeUndefined();
    });

    it('keeps the last N snapshots', async () => {
      const pid = freshId('snap');
      for (const seq of [3, 9, 1, 7, 5]) await store().snapshots.save(pid, seq, seq);
      expect(await store().snapshots.keepLast(pid, 2)).toBe(3);
      expect((await store().snapshots.loadLatest(pid))?.sequenceNr).toBe(9);
      expect((await store().snapshots.loadLatest(pid, { maxSequenceNr: 8 }))?.sequenceNr).toBe(7);
      expect(await store().snapshots.loadLatest(pid, { maxSequenceNr: 6 })).toBeUndefined();
      expect(await store().snapshots.keepLast(pid, 5)).toBe(0);
      expect(await store().snapshots.keepLast(pid, 0)).toBe(2);
      expect(await store().snapshots.loadLatest(pid)).toBeUndefined();
    });

    it('keeps ids apart', async () => {
      const a = freshId('snap');
      const b = freshId('snap');
      await store().snapshots.save(a, 1, 'a');
      await store().snapshots.save(b, 2, 'b');
      expect(await store().snapshots.delete(a, {})).toBe(1);
      expect((await store().snapshots.loadLatest(b))?.snapshot).toBe('b');
    });

    it('stores large snapshots (5 MB)', async () => {
      const pid = freshId('snap-large');
      const big = { blob: new Uint8Array(5 * 1024 * 1024).fill(7), note: 'big' };
      await store().snapshots.save(pid, 1, big);
      const back = (await store().snapshots.loadLatest(pid))?.snapshot as { blob: Uint8Array; note: string };
      expect(back.note).toBe('big');
      expect(back.blob.byteLength).toBe(big.blob.byteLength);
      expect(back.blob.every((b) => b === 7)).toBe(true);
    });
  });
}
