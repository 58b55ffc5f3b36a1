// The durable-state contract, run against every backend.
import { describe, expect, it } from 'vitest';
import type { Store } from '../../../src/persistence/index.js';
import { DurableStateConflictError } from '../../../src/persistence/index.js';
import { freshId, settle } from '../support.js';

export function durableStateContract(store: () => Store): void {
  describe('durable-state store', () => {
    it('has no value for an unknown id', async () => {
      expect(await store().durableState.get(freshId('state'))).toBeUndefined();
      expect(await store().durableState.delete(freshId('state'))).toBe(false);
    });

    it('writes revision 1, then each write increments the revision', async () => {
      const pid = freshId('state');
      const before = Date.now();
      expect(await store().durableState.upsert(pid, 0, { count: 1 }, { type: 'Counter' })).toMatchObject({ revision: 1 });
      const first = await store().durableState.get(pid);
      expect(first).toMatchObject({ persistenceId: pid, revision: 1, type: 'Counter', value: { count: 1 } });
      expect(first?.timestamp).toBeGreaterThanOrEqual(before - 1000);
      expect(await store().durableState.upsert(pid, 1, { count: 2 })).toMatchObject({ revision: 2 });
      expect(await store().durableState.get(pid)).toMatchObject({ revision: 2, type: '', value: { count: 2 } });
    });

    it('rejects a write with the wrong revision and keeps the value', async () => {
      const pid = freshId('state');
      await store().durableState.upsert(pid, 0, 'v1');
      await store().durableState.upsert(pid, 1, 'v2');
      for (const expected of [0, 1, 3]) {
        const err = await store()
          .durableState.upsert(pid, expected, 'stale')
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DurableStateConflictError);
        expect(err).toMatchObject({ code: 'DURABLE_STATE_CONFLICT', persistenceId: pid, expectedRevision: expected });
      }
      expect(await store().durableState.get(pid)).toMatchObject({ revision: 2, value: 'v2' });
      await expect(store().durableState.upsert(freshId('state'), 4, 'x')).rejects.toMatchObject({ code: 'DURABLE_STATE_CONFLICT' });
    });

    it('lets exactly one of several concurrent writers with the same revision win', async () => {
      const pid = freshId('state');
      await store().durableState.upsert(pid, 0, 'start');
      const { ok, failed } = await settle(Array.from({ length: 10 }, (_, w) => store().durableState.upsert(pid, 1, { w })));
      expect(ok).toHaveLength(1);
      expect(failed.every((e) => e instanceof DurableStateConflictError)).toBe(true);
      expect((await store().durableState.get(pid))?.revision).toBe(2);
      const created = await settle(Array.from({ length: 6 }, (_, w) => store().durableState.upsert(`${pid}-new`, 0, w)));
      expect(created.ok).toHaveLength(1);
      expect(created.failed).toHaveLength(5);
    });

    it('deletes, unconditionally or at an expected revision', async () => {
      const pid = freshId('state');
      await store().durableState.upsert(pid, 0, 'a');
      await store().durableState.upsert(pid, 1, 'b');
      await expect(store().durableState.delete(pid, 1)).rejects.toMatchObject({ code: 'DURABLE_STATE_CONFLICT' });
      await expect(store().durableState.delete(pid, 0)).rejects.toMatchObject({ code: 'DURABLE_STATE_CONFLICT' });
      expect(await store().durableState.get(pid)).toMatchObject({ revision: 2 });
      expect(await store().durableState.delete(pid, 2)).toBe(true);
      expect(await store().durableState.get(pid)).toBeUndefined();
      expect(await store().durableState.delete(pid, 0)).toBe(false);
      // After a delete the id starts again from revision 0.
      expect(await store().durableState.upsert(pid, 0, 'again')).toMatchObject({ revision: 1 });
      expect(await store().durableState.delete(pid)).toBe(true);
      expect(await store().durableState.delete(pid)).toBe(false);
    });

    it('stores large values (5 MB)', async () => {
      const pid = freshId('state-large');
      const value = 'y'.repeat(5 * 1024 * 1024);
      await store().durableState.upsert(pid, 0, value);
      expect(((await store().durableState.get(pid))?.value as string).length).toBe(value.length);
    });
  });
}
