// The journal contract, run against every backend (in the spirit of the Akka persistence TCK).
import { describe, expect, it } from 'vitest';
import { isBeamstateError } from '../../../src/errors.js';
import type { PersistentEvent, Store } from '../../../src/persistence/index.js';
import { JournalConflictError } from '../../../src/persistence/index.js';
import { freshId, settle } from '../support.js';

async function appendN(store: Store, pid: string, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) await store.journal.append(pid, i, [{ payload: { n: i + 1 }, type: 'N' }]);
}

const seqs = (events: readonly PersistentEvent[]): number[] => events.map((e) => e.sequenceNr);

export function journalContract(store: () => Store): void {
  describe('journal', () => {
    it('numbers a new id from 1 and reports the highest sequence number', async () => {
      const pid = freshId();
      const r = await store().journal.append(pid, 0, [{ payload: 'a' }, { payload: 'b' }, { payload: 'c' }]);
      expect(r).toMatchObject({ persistenceId: pid, firstSequenceNr: 1, highestSequenceNr: 3 });
      expect(typeof r.timestamp).toBe('number');
      expect(await store().journal.highestSequenceNr(pid)).toBe(3);
      const r2 = await store().journal.append(pid, 3, [{ payload: 'd' }]);
      expect(r2).toMatchObject({ firstSequenceNr: 4, highestSequenceNr: 4 });
    });

    it('replays payload, type, metadata and timestamp as written, in order', async () => {
      const pid = freshId();
      const before = Date.now();
      await store().journal.append(pid, 0, [
        { payload: { type: 'ItemAdded', item: 'sku-1', qty: 2 }, type: 'ItemAdded', metadata: { correlationId: 'c-1' } },
        { payload: [1, 'two', { three: 3 }], type: 'Other' },
      ]);
      const events = await store().journal.read(pid);
      expect(events).toHaveLength(2);
      expect(events[0]).toMatchObject({
        persistenceId: pid,
        sequenceNr: 1,
        type: 'ItemAdded',
        payload: { type: 'ItemAdded', item: 'sku-1', qty: 2 },
        metadata: { correlationId: 'c-1' },
      });
      expect(events[1]).toMatchObject({ sequenceNr: 2, type: 'Other', payload: [1, 'two', { three: 3 }], metadata: undefined });
      for (const e of events) {
        expect(e.timestamp).toBeGreaterThanOrEqual(before - 1000);
        expect(e.timestamp).toBeLessThanOrEqual(Date.now() + 1000);
      }
      expect((events[1] as PersistentEvent).ordering).toBeGreaterThan((events[0] as PersistentEvent).ordering);
    });

    it('defaults the event type to the empty string', async () => {
      const pid = freshId();
      await store().journal.append(pid, 0, [{ payload: 1 }]);
      expect((await store().journal.read(pid))[0]?.type).toBe('');
    });

    it('rejects an append with a stale or future expected sequence number and writes nothing', async () => {
      const pid = freshId();
      await appendN(store(), pid, 2);
      for (const expected of [0, 1, 3, 10]) {
        const err = await store()
          .journal.append(pid, expected, [{ payload: 'x' }, { payload: 'y' }])
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(err).toBeInstanceOf(JournalConflictError);
        expect(isBeamstateError(err, 'JOURNAL_CONFLICT')).toBe(true);
        expect((err as JournalConflictError).persistenceId).toBe(pid);
        expect((err as JournalConflictError).expectedSequenceNr).toBe(expected);
      }
      expect(await store().journal.highestSequenceNr(pid)).toBe(2);
      expect(seqs(await store().journal.read(pid))).toEqual([1, 2]);
    });

    it('rejects an append to an unknown id that expects events to exist', async () => {
      const pid = freshId();
      await expect(store().journal.append(pid, 5, [{ payload: 1 }])).rejects.toMatchObject({ code: 'JOURNAL_CONFLICT' });
      expect(await store().journal.highestSequenceNr(pid)).toBe(0);
      expect(await store().journal.read(pid)).toEqual([]);
    });

    it('replays within from/to bounds and a maximum count', async () => {
      const pid = freshId();
      await store().journal.append(
        pid,
        0,
        Array.from({ length: 30 }, (_, i) => ({ payload: i + 1 })),
      );
      const j = store().journal;
      expect(seqs(await j.read(pid))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(seqs(await j.read(pid, { fromSequenceNr: 5, toSequenceNr: 9 }))).toEqual([5, 6, 7, 8, 9]);
      expect(seqs(await j.read(pid, { fromSequenceNr: 28 }))).toEqual([28, 29, 30]);
      expect(seqs(await j.read(pid, { toSequenceNr: 3 }))).toEqual([1, 2, 3]);
      expect(seqs(await j.read(pid, { fromSequenceNr: 3, max: 4 }))).toEqual([3, 4, 5, 6]);
      expect(seqs(await j.read(pid, { fromSequenceNr: 3, toSequenceNr: 5, max: 10 }))).toEqual([3, 4, 5]);
      expect(seqs(await j.read(pid, { fromSequenceNr: 2, max: 17 }))).toHaveLength(17);
      expect(seqs(await j.read(pid, { fromSequenceNr: 0, max: 2 }))).toEqual([1, 2]);
      expect(seqs(await j.read(pid, { toSequenceNr: Infinity, max: Infinity }))).toHaveLength(30);
      expect(await j.read(pid, { max: 0 })).toEqual([]);
      expect(await j.read(pid, { fromSequenceNr: 31 })).toEqual([]);
      expect(await j.read(pid, { fromSequenceNr: 10, toSequenceNr: 9 })).toEqual([]);
      expect(await j.read(pid, { fromSequenceNr: 20, toSequenceNr: 3 })).toEqual([]);
      expect(await j.read(pid, { toSequenceNr: 0 })).toEqual([]);
      expect((await j.read(pid, { fromSequenceNr: 12, max: 1 }))[0]?.payload).toBe(12);
    });

    it('reports how many events a replay delivered and the last sequence number', async () => {
      const pid = freshId();
      await appendN(store(), pid, 6);
      const seen: number[] = [];
      const r = await store().journal.replay(pid, { fromSequenceNr: 2, max: 3 }, (e) => seen.push(e.sequenceNr));
      expect(r).toEqual({ count: 3, lastSequenceNr: 4 });
      expect(seen).toEqual([2, 3, 4]);
      expect(await store().journal.replay(pid, { fromSequenceNr: 7 }, () => {})).toEqual({ count: 0, lastSequenceNr: 0 });
    });

    it('treats an unknown id as empty', async () => {
      const pid = freshId('unknown');
      expect(await store().journal.highestSequenceNr(pid)).toBe(0);
      expect(await store().journal.read(pid)).toEqual([]);
      await store().journal.deleteTo(pid, 10);
      expect(await store().journal.highestSequenceNr(pid)).toBe(0);
    });

    it('stops a replay and rejects with the error its handler throws', async () => {
      const pid = freshId();
      await appendN(store(), pid, 5);
      const boom = new Error('handler failed');
      let calls = 0;
      await expect(
        store().journal.replay(pid, {}, (e) => {
          calls++;
          if (e.sequenceNr === 2) throw boom;
        }),
      ).rejects.toBe(boom);
      expect(calls).toBe(2);
    });

    it('deletes up to a sequence number and keeps the highest', async () => {
      const pid = freshId();
      await appendN(store(), pid, 5);
      await store().journal.deleteTo(pid, 3);
      expect(seqs(await store().journal.read(pid))).toEqual([4, 5]);
      expect(seqs(await store().journal.read(pid, { fromSequenceNr: 1, max: 1 }))).toEqual([4]);
      expect(await store().journal.highestSequenceNr(pid)).toBe(5);
      // Deleting again, or below what is already deleted, changes nothing.
      await store().journal.deleteTo(pid, 2);
      expect(seqs(await store().journal.read(pid))).toEqual([4, 5]);
      // The next append still expects the highest, not the first live event.
      await expect(store().journal.append(pid, 0, [{ payload: 'x' }])).rejects.toMatchObject({ code: 'JOURNAL_CONFLICT' });
      await expect(store().journal.append(pid, 2, [{ payload: 'x' }])).rejects.toMatchObject({ code: 'JOURNAL_CONFLICT' });
      await store().journal.append(pid, 5, [{ payload: 'six' }]);
      expect(seqs(await store().journal.read(pid))).toEqual([4, 5, 6]);
    });

    it('keeps the highest when everything is deleted, even beyond the highest', async () => {
      const pid = freshId();
      await appendN(store(), pid, 4);
      await store().journal.deleteTo(pid, 1000);
      expect(await store().journal.read(pid)).toEqual([]);
      expect(await store().journal.highestSequenceNr(pid)).toBe(4);
      await expect(store().journal.append(pid, 0, [{ payload: 'again' }])).rejects.toMatchObject({ code: 'JOURNAL_CONFLICT' });
      await store().journal.append(pid, 4, [{ payload: 'five' }, { payload: 'six' }]);
      expect(seqs(await store().journal.read(pid))).toEqual([5, 6]);
      await store().journal.deleteTo(pid, Infinity);
      expect(await store().journal.read(pid)).toEqual([]);
      expect(await store().journal.highestSequenceNr(pid)).toBe(6);
    });

    it('gives every event a unique global ordering that increases along each id', async () => {
      const a = freshId('ord');
      const b = freshId('ord');
      await store().journal.append(a, 0, [{ payload: 1 }, { payload: 2 }]);
      await store().journal.append(b, 0, [{ payload: 1 }]);
      await store().journal.append(a, 2, [{ payload: 3 }]);
      await store().journal.append(b, 1, [{ payload: 2 }, { payload: 3 }]);
      const ea = await store().journal.read(a);
      const eb = await store().journal.read(b);
      const all = [...ea, ...eb].map((e) => e.ordering);
      expect(new Set(all).size).toBe(all.length);
      for (const list of [ea, eb]) {
        for (let i = 1; i < list.length; i++) {
          expect((list[i] as PersistentEvent).ordering).toBeGreaterThan((list[i - 1] as PersistentEvent).ordering);
        }
      }
      // readByOrdering returns the same events, in ordering order, after a position, up to a max.
      const first = Math.min(...all) - 1;
      const mine = (await store().journal.readByOrdering({ afterOrdering: first, max: 100_000 })).filter(
        (e) => e.persistenceId === a || e.persistenceId === b,
      );
      expect(mine.map((e) => e.ordering)).toEqual([...all].sort((x, y) => x - y));
      const two = await store().journal.readByOrdering({ afterOrdering: first, max: 2 });
      expect(two).toHaveLength(2);
      expect(two.map((e) => e.ordering)).toEqual([...all].sort((x, y) => x - y).slice(0, 2));
      const later = await store().journal.readByOrdering({ afterOrdering: Math.max(...all) });
      expect(later.some((e) => e.persistenceId === a || e.persistenceId === b)).toBe(false);
    });

    it('excludes deleted events from readByOrdering', async () => {
      const pid = freshId('ord-del');
      const r = await store().journal.append(pid, 0, [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
      const events = await store().journal.read(pid);
      await store().journal.deleteTo(pid, 2);
      const after = (events[0] as PersistentEvent).ordering - 1;
      const left = (await store().journal.readByOrdering({ afterOrdering: after, max: 100_000 })).filter((e) => e.persistenceId === pid);
      expect(left.map((e) => e.sequenceNr)).toEqual([r.highestSequenceNr]);
    });

    it('stores and replays large payloads (5 MB)', async () => {
      const pid = freshId('large');
      const bytes = new Uint8Array(5 * 1024 * 1024);
      for (let i = 0; i < bytes.length; i += 997) bytes[i] = i % 251;
      const text = 'x'.repeat(5 * 1024 * 1024);
      await store().journal.append(pid, 0, [{ payload: bytes, type: 'Bytes' }, { payload: { text }, type: 'Text' }]);
      await store().journal.append(pid, 2, [{ payload: 'small' }]);
      const events = await store().journal.read(pid);
      expect(seqs(events)).toEqual([1, 2, 3]);
      const back = events[0]?.payload as Uint8Array;
      expect(back.byteLength).toBe(bytes.byteLength);
      expect(Buffer.compare(Buffer.from(back), Buffer.from(bytes))).toBe(0);
      expect((events[1]?.payload as { text: string }).text.length).toBe(text.length);
      expect(events[2]?.payload).toBe('small');
    });

    it('lets exactly one of several concurrent appenders to one id win', async () => {
      const pid = freshId('race');
      await appendN(store(), pid, 1);
      const writers = 12;
      const { ok, failed } = await settle(
        Array.from({ length: writers }, (_, w) =>
          store().journal.append(pid, 1, [{ payload: { writer: w, k: 0 } }, { payload: { writer: w, k: 1 } }]),
        ),
      );
      expect(ok).toHaveLength(1);
      expect(failed).toHaveLength(writers - 1);
      for (const err of failed) expect(err).toBeInstanceOf(JournalConflictError);
      const events = await store().journal.read(pid);
      expect(seqs(events)).toEqual([1, 2, 3]);
      // Both events of the append that won, and nothing from any other: no partial append, no fork.
      const winner = (events[1]?.payload as { writer: number }).writer;
      expect(events[2]?.payload).toEqual({ writer: winner, k: 1 });
      expect(await store().journal.highestSequenceNr(pid)).toBe(3);
    });

    it('lets exactly one of several concurrent first appenders to a new id win', async () => {
      const pid = freshId('race-new');
      const { ok, failed } = await settle(
        Array.from({ length: 8 }, (_, w) => store().journal.append(pid, 0, [{ payload: w }])),
      );
      expect(ok).toHaveLength(1);
      expect(failed.every((e) => isBeamstateError(e, 'JOURNAL_CONFLICT'))).toBe(true);
      expect(await store().journal.highestSequenceNr(pid)).toBe(1);
      const events = await store().journal.read(pid);
      expect(events).toHaveLength(1);
      expect([0, 1, 2, 3, 4, 5, 6, 7]).toContain(events[0]?.payload);
    });

    it('writes concurrent appends to different ids independently', async () => {
      const ids = Array.from({ length: 40 }, () => freshId('many'));
      const results = await Promise.all(ids.map((pid, i) => store().journal.append(pid, 0, [{ payload: i }, { payload: -i - 1 }])));
      expect(results.map((r) => r.highestSequenceNr)).toEqual(ids.map(() => 2));
      for (const [i, pid] of ids.entries()) {
        expect((await store().journal.read(pid)).map((e) => e.payload)).toEqual([i, -i - 1]);
      }
    });

    it('accepts any non-empty persistence id and event type: quotes, backslashes, commas, braces, unicode', async () => {
      const odd = ['with "quotes"', 'back\\slash\\', 'comma,brace{}', 'NULL', ' spaced ', 'ünïcödé ✓', "it's", '"'].map(
        (s) => `${freshId('odd')}:${s}`,
      );
      // Issued together, so on SQL backends they travel in one batch statement.
      await Promise.all(odd.map((pid, i) => store().journal.append(pid, 0, [{ payload: i, type: pid }, { payload: -i - 1 }])));
      for (const [i, pid] of odd.entries()) {
        const events = await store().journal.read(pid);
        expect(events.map((e) => [e.persistenceId, e.type, e.payload])).toEqual([
          [pid, pid, i],
          [pid, '', -i - 1],
        ]);
        expect(await store().journal.highestSequenceNr(pid)).toBe(2);
      }
    });

    it('keeps pipelined appends to one id in order', async () => {
      const pid = freshId('pipe');
      // Issued without waiting: each expects the previous one to have been written first.
      const results = await Promise.all([0, 1, 2, 3, 4].map((n) => store().journal.append(pid, n, [{ payload: n + 1 }])));
      expect(results.map((r) => r.highestSequenceNr)).toEqual([1, 2, 3, 4, 5]);
      expect((await store().journal.read(pid)).map((e) => e.payload)).toEqual([1, 2, 3, 4, 5]);
    });
  });
}
