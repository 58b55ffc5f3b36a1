import fc from 'fast-check';
import { Packr } from 'msgpackr';
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

// ------------------------------------------------------------------ what the default serializer stores

/**
 * Whether `back` is `value` as stored faithfully, allowing only the documented normalisations:
 * -0 reads back as 0, an array hole as undefined, a Uint8Array as a Buffer, a null-prototype
 * object as a plain one; symbol-keyed properties are not data and are left out.
 */
function sameData(value: unknown, back: unknown): boolean {
  if (typeof value !== typeof back) return false;
  switch (typeof value) {
    case 'number':
      return Object.is(value, back) || (value === 0 && back === 0);
    case 'object': {
      if (value === null || back === null) return value === back;
      const v = value as object;
      const b = back as object;
      const vp: unknown = Object.getPrototypeOf(v);
      const bp: unknown = Object.getPrototypeOf(b);
      if (Array.isArray(v)) {
        if (vp !== Array.prototype || bp !== Array.prototype) return false;
        const bArr = b as unknown[];
        return v.length === bArr.length && Array.from({ length: v.length }, (_, i) => sameData(v[i], bArr[i])).every(Boolean);
      }
      if (vp === Object.prototype || vp === null) {
        if (bp !== Object.prototype) return false;
        const keys = Object.keys(v);
        const backKeys = Object.keys(b);
        if (keys.length !== backKeys.length || !keys.every((k) => Object.prototype.hasOwnProperty.call(b, k))) return false;
        return keys.every((k) => sameData((v as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
      }
      if (vp === Uint8Array.prototype || vp === Buffer.prototype) return b instanceof Uint8Array && Buffer.from(v as Uint8Array).equals(Buffer.from(b));
      if (vp === Date.prototype) return bp === Date.prototype && Object.is((v as Date).getTime(), (b as Date).getTime());
      return false; // any other class: msgpackr does not give it back
    }
    default:
      return value === back;
  }
}

/** Whether msgpackr, as configured but without the check, gives `value` back faithfully. */
function rawCodecKeeps(value: unknown): boolean {
  const raw = new Packr({ useRecords: false });
  try {
    return sameData(value, raw.unpack(raw.pack(value)));
  } catch {
    return false;
  }
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** Values of every kind: data, and everything that is not (functions, symbols, instances, lone surrogates, odd keys). */
const anyValue = fc.anything({
  maxDepth: 3,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
  key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'x\uD800', 'toString')),
  values: [
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.string({ unit: 'binary' }),
    fc.constantFrom(null, undefined, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 2 ** 40),
    fc.constantFrom('\uD800', 'a\uDC00b', '\u{1F600}', 'e\u0301', '\u0000'),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.constantFrom<unknown>(
      () => 1,
      Symbol('s'),
      new Point(1, 2),
      /re/g,
      new Error('e'),
      new ArrayBuffer(2),
      new Float64Array([1.5]),
      new DataView(new ArrayBuffer(1)),
      Promise.resolve(1),
      new WeakMap(),
      new URL('http://example.org/'),
      new Uint8Array([1, 2, 3]),
      Buffer.from('buf'),
      new Date(0),
      new Date(Number.NaN),
    ),
  ],
});

describe('what the default serializer stores', () => {
  const s = msgpackSerializer();

  it('stores a value exactly when msgpackr gives it back as it was; refuses the rest with a path to the offence', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        let bytes: Uint8Array | undefined;
        try {
          bytes = s.encode(value);
        } catch {
          // Refused: the codec alone would have stored something else (or could not encode it).
          expect(rawCodecKeeps(value)).toBe(false);
          return;
        }
        expect(sameData(value, s.decode(bytes, ''))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses functions, symbols, instances and the rest, naming where they are', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    const refused: [unknown, RegExp][] = [
      [() => 1, /the value is a function/],
      [{ onClick() {} }, /value\.onClick is a function/],
      [{ items: [1, { tag: Symbol('t') }] }, /value\.items\[1\]\.tag is a symbol/],
      [new Point(1, 2), /an instance of Point/],
      [{ 'odd key': new Map() }, /value\["odd key"\] is a Map/],
      [[new Set([1])], /value\[0\] is a Set/],
      [new Float32Array(2), /a Float32Array \(use a Uint8Array\)/],
      [{ text: 'x\uD800' }, /value\.text is a string with a lone surrogate/],
      [JSON.parse('{"__proto__": {"admin": true}}'), /"__proto__" key/],
      [circular, /circular/],
      [Object.assign(Object.create({ inherited: 1 }) as object, { own: 2 }), /an instance of/],
    ];
    for (const [value, message] of refused) expect(() => s.encode(value)).toThrow(message);
  });

  it('stores dates, bytes, bigints, undefined and null-prototype objects as they were', () => {
    const nullProto = Object.assign(Object.create(null) as object, { a: 1 });
    const value = { at: new Date(1234), bytes: new Uint8Array([9, 8]), n: 2n ** 62n, none: undefined, list: [undefined, null, Number.NaN, -1.5], dict: nullProto };
    const back = s.decode(s.encode(value), '') as typeof value;
    expect(sameData(value, back)).toBe(true);
    expect(back.at).toBeInstanceOf(Date);
    expect(back.n).toBe(2n ** 62n);
    expect('none' in back).toBe(true);
  });
});
