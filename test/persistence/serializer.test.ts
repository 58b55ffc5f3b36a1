import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, msgpackSerializer } from '../../src/persistence/index.js';
import type { Serializer } from '../../src/persistence/index.js';
import { isBeamstateError } from '../../src/errors.js';
import { openTestDatabase } from './support.js';
import type { TestDatabase } from './support.js';

/** JSON as bytes, remembering the type each decode was asked for. */
function jsonSerializer(): Serializer & { decodedTypes: string[] } {
  const decodedTypes: string[] = [];
  return {
    decodedTypes,
    encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
    decode: (bytes, type) => {
      decodedTypes.push(type);
      return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    },
  };
}

describe('msgpack serializer', () => {
  it('round-trips the values events are made of', () => {
    const s = msgpackSerializer();
    const value = { type: 'ItemAdded', item: 'sku-123', qty: 2, tags: ['a', 'b'], price: 9.5, nested: { ok: true, none: null } };
    expect(s.decode(s.encode(value), 'ItemAdded')).toEqual(value);
    const bytes = s.decode(s.encode(new Uint8Array([1, 2, 3])), '');
    expect(bytes).toBeInstanceOf(Uint8Array); // a Buffer on Node
    expect([...(bytes as Uint8Array)]).toEqual([1, 2, 3]);
  });

  it('returns bytes that stay valid after later encodes', () => {
    const s = msgpackSerializer();
    const first = s.encode({ n: 1 });
    for (let i = 0; i < 10_000; i++) s.encode({ n: i, filler: 'x'.repeat(50) });
    expect(s.decode(first, '')).toEqual({ n: 1 });
  });
});

describe('a custom serializer', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  for (const kind of ['memory', 'sql'] as const) {
    it(`is used for payloads and metadata and gets the stored type back (${kind})`, async () => {
      const serializer = jsonSerializer();
      const store = kind === 'memory' ? await createStore({ kind: 'memory', serializer }) : await db.openStore({ serializer });
      try {
        await store.journal.append('s', 0, [{ payload: { a: 1 }, type: 'A', metadata: { m: 'x' } }]);
        await store.snapshots.save('s', 1, { snap: true }, { type: 'Snap' });
        await store.durableState.upsert('s', 0, { state: 1 }, { type: 'State' });
        expect((await store.journal.read('s'))[0]).toMatchObject({ payload: { a: 1 }, type: 'A', metadata: { m: 'x' } });
        expect((await store.snapshots.loadLatest('s'))?.snapshot).toEqual({ snap: true });
        expect((await store.durableState.get('s'))?.value).toEqual({ state: 1 });
        expect(serializer.decodedTypes).toEqual(['A', '', 'Snap', 'State']);
        if (kind === 'sql') {
          const rows = await db.admin(`SELECT payload FROM "${db.schema}".beamstate_journal WHERE persistence_id = 's'`);
          expect(new TextDecoder().decode(rows[0]?.payload as Uint8Array)).toBe('{"a":1}');
        }
      } finally {
        await store.close();
      }
    });
  }

  it('turns encode and decode failures into SERIALIZATION_FAILED', async () => {
    const broken: Serializer = {
      encode: (value) => (value === 'not bytes' ? ('oops' as unknown as Uint8Array) : new TextEncoder().encode(JSON.stringify(value))),
      decode: () => {
        throw new Error('cannot read this');
      },
    };
    const store = await createStore({ kind: 'memory', serializer: broken });
    const err = await store.journal.append('x', 0, [{ payload: 'not bytes' }]).catch((e: unknown) => e);
    expect(isBeamstateError(err, 'SERIALIZATION_FAILED')).toBe(true);
    await store.journal.append('x', 0, [{ payload: 'fine' }]);
    const readErr = await store.journal.read('x').catch((e: unknown) => e);
    expect(isBeamstateError(readErr, 'SERIALIZATION_FAILED')).toBe(true);
    expect((readErr as Error).cause).toBeInstanceOf(Error);
    await store.close();
  });
});
