// The values contract, run against every backend: values with no data representation are refused
// with SERIALIZATION_FAILED before anything is written (issue 13, item 6), and what a store hands
// out never aliases what it holds (issue 13, item 5).
import { describe, expect, it } from 'vitest';
import type { Store } from '../../../src/persistence/index.js';
import { freshId, settle } from '../support.js';

class Money {
  constructor(
    readonly amount: number,
    readonly currency: string,
  ) {}
}

/** Values the default serializer refuses, each as an event, snapshot or state would hold it. */
function notData(): [string, unknown][] {
  const circular: Record<string, unknown> = { name: 'loop' };
  circular.self = circular;
  return [
    ['a function', () => 'hello'],
    ['an object holding a function', { item: 'sku-1', onAdd() {} }],
    ['a symbol', Symbol('s')],
    ['an array holding a symbol', [1, Symbol('t')]],
    ['a class instance', new Money(5, 'EUR')],
    ['an object holding a class instance', { price: new Money(5, 'EUR') }],
    ['a Map', new Map([['a', 1]])],
    ['a Set', new Set([1, 2])],
    ['a RegExp', /x/],
    ['an Error', new Error('boom')],
    ['a Float64Array', new Float64Array([1.5])],
    ['a string with a lone surrogate', 'x\uD800'],
    ['a "__proto__" key', JSON.parse('{"__proto__": {"admin": true}}')],
    ['a circular object', circular],
  ];
}

const refusedAs = async (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    (v) => {
      throw new Error(`expected SERIALIZATION_FAILED, got ${String(v)}`);
    },
    (e: unknown) => e,
  );

export function valuesContract(store: () => Store): void {
  describe('values', () => {
    for (const [what, value] of notData()) {
      it(`refuses ${what} with SERIALIZATION_FAILED on every write, and writes nothing`, async () => {
        const s = store();
        const pid = freshId('notdata');
        const writes: [string, Promise<unknown>][] = [
          ['event payload', s.journal.append(pid, 0, [{ payload: value }])],
          ['event metadata', s.journal.append(pid, 0, [{ payload: 1, metadata: { m: value } }])],
          ['second event of an append', s.journal.append(pid, 0, [{ payload: 'fine' }, { payload: value }])],
          ['snapshot', s.snapshots.save(pid, 1, value)],
          ['snapshot metadata', s.snapshots.save(pid, 1, 'fine', { metadata: { m: value } })],
          ['durable state', s.durableState.upsert(pid, 0, value)],
        ];
        for (const [where, write] of writes) {
          const err = await refusedAs(write);
          expect(err, where).toMatchObject({ code: 'SERIALIZATION_FAILED' });
        }
        expect(await s.journal.highestSequenceNr(pid)).toBe(0);
        expect(await s.journal.read(pid)).toEqual([]);
        expect(await s.snapshots.loadLatest(pid)).toBeUndefined();
        expect(await s.durableState.get(pid)).toBeUndefined();
      });
    }

    it('fails only the append with a value it cannot store; the appends beside it (one batch on SQL) commit', async () => {
      const s = store();
      const pids = Array.from({ length: 6 }, () => freshId('batch'));
      // Issued in one tick: on SQL backends they are one group-commit batch.
      const { ok, failed } = await settle(pids.map((pid, i) => s.journal.append(pid, 0, [{ payload: i === 2 ? { cb: () => i } : { i } }])));
      expect(ok).toHaveLength(5);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ code: 'SERIALIZATION_FAILED' });
      for (const [i, pid] of pids.entries()) {
        expect((await s.journal.read(pid)).map((e) => e.payload)).toEqual(i === 2 ? [] : [{ i }]);
      }
    });

    it('stores dates, bytes, bigints, undefined and non-finite numbers as they were', async () => {
      const s = store();
      const pid = freshId('data');
      const value = { at: new Date(1_700_000_000_123), bytes: new Uint8Array([1, 2, 3]), big: -(2n ** 63n), none: undefined, nan: Number.NaN, inf: -Infinity, list: [undefined, null] };
      await s.journal.append(pid, 0, [{ payload: value }]);
      await s.snapshots.save(pid, 1, value);
      await s.durableState.upsert(pid, 0, value);
      for (const back of [(await s.journal.read(pid))[0]?.payload, (await s.snapshots.loadLatest(pid))?.snapshot, (await s.durableState.get(pid))?.value]) {
        const v = back as typeof value;
        expect(v.at).toBeInstanceOf(Date);
        expect(v.at.getTime()).toBe(1_700_000_000_123);
        expect(v.bytes).toBeInstanceOf(Uint8Array);
        expect([...v.bytes]).toEqual([1, 2, 3]);
        expect(v.big).toBe(-(2n ** 63n));
        expect('none' in v && v.none === undefined).toBe(true);
        expect(v.nan).toBeNaN();
        expect(v.inf).toBe(-Infinity);
        expect(v.list).toEqual([undefined, null]);
      }
    });

    it('hands out binary values that are copies: changing one changes nothing stored', async () => {
      const s = store();
      const pid = freshId('bytes');
      const value = () => ({ top: Buffer.from([1, 2, 3]), nested: { deeper: [new Uint8Array([4, 5])] } });
      const metadata = { raw: Buffer.from([6]) };
      await s.journal.append(pid, 0, [{ payload: value(), metadata }]);
      await s.snapshots.save(pid, 1, value(), { metadata });
      await s.durableState.upsert(pid, 0, value());
      type V = ReturnType<typeof value>;
      const loads: [string, () => Promise<{ value: V; metadata?: { raw: Uint8Array } }>][] = [
        ['journal.read', async () => {
          const e = (await s.journal.read(pid))[0];
          return { value: e?.payload as V, metadata: e?.metadata as { raw: Uint8Array } };
        }],
        ['journal.readByOrdering', async () => {
          const ordering = (await s.journal.read(pid))[0]?.ordering as number;
          const e = (await s.journal.readByOrdering({ afterOrdering: ordering - 1, max: 1 }))[0];
          return { value: e?.payload as V, metadata: e?.metadata as { raw: Uint8Array } };
        }],
        ['snapshots.loadLatest', async () => {
          const x = await s.snapshots.loadLatest(pid);
          return { value: x?.snapshot as V, metadata: x?.metadata as { raw: Uint8Array } };
        }],
        ['durableState.get', async () => ({ value: (await s.durableState.get(pid))?.value as V })],
        ['recovery.load', async () => ({ value: (await s.recovery.load(pid)).snapshot?.snapshot as V })],
      ];
      for (const [where, load] of loads) {
        const first = await load();
        first.value.top.fill(0);
        (first.value.nested.deeper[0] as Uint8Array).fill(0);
        first.metadata?.raw.fill(0);
        const again = await load();
        expect([...again.value.top], where).toEqual([1, 2, 3]);
        expect([...(again.value.nested.deeper[0] as Uint8Array)], where).toEqual([4, 5]);
        if (again.metadata !== undefined) expect([...again.metadata.raw], where).toEqual([6]);
      }
    });

    it('keeps what it stored when the caller changes the bytes it passed in', async () => {
      const s = store();
      const pid = freshId('given');
      const bytes = Buffer.from([7, 7]);
      await s.journal.append(pid, 0, [{ payload: bytes }]);
      await s.snapshots.save(pid, 1, bytes);
      await s.durableState.upsert(pid, 0, bytes);
      bytes.fill(0);
      expect([...((await s.journal.read(pid))[0]?.payload as Uint8Array)]).toEqual([7, 7]);
      expect([...((await s.snapshots.loadLatest(pid))?.snapshot as Uint8Array)]).toEqual([7, 7]);
      expect([...((await s.durableState.get(pid))?.value as Uint8Array)]).toEqual([7, 7]);
    });
  });
}
