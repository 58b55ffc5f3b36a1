// The frame rules, without sockets: the hand-written validator against the zod schemas of the
// protocol, and the msgpack pre-scan against msgpackr and the JSON checks.
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { requestFrameSchemas } from '../../src/index.js';
import { jsonCodec, msgpackCodec } from '../../src/gateway/codec.js';
import { FrameError } from '../../src/gateway/errors.js';
import { scanMsgpack } from '../../src/gateway/msgpack-scan.js';
import { checkValue } from '../../src/gateway/safe-value.js';
import { parseRequest } from '../../src/gateway/validate.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, encodeUndefinedAsNil: true, variableMapSize: true });

/** Values that sit on and around every boundary of the rules, plus some of anything. */
const edgy = fc.oneof(
  fc.constantFrom(undefined, null, true, false, 0, -1, 1, 1.5, 2 ** 53 - 1, 2 ** 53, '', 'x', 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(128), 'x'.repeat(129), [], {}),
  fc.constantFrom('command', 'subscribe', 'unsubscribe', 'ping', 'counter', 'get'),
  fc.jsonValue({ maxDepth: 2 }),
);
const requestId = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER), fc.string({ minLength: 1, maxLength: 128 }));
const address = fc.record({ type: fc.string({ minLength: 1, maxLength: 64 }), id: fc.string() });
const valid = fc.oneof(
  fc.record(
    { kind: fc.constant('command'), id: requestId, entity: address, command: fc.string({ minLength: 1, maxLength: 128 }), input: fc.jsonValue({ maxDepth: 2 }) },
    { requiredKeys: ['kind', 'id', 'entity', 'command'] },
  ),
  fc
    .record(
      { kind: fc.constant('subscribe'), id: requestId, entity: address, events: fc.boolean(), state: fc.boolean(), fromSequenceNr: fc.integer({ min: 1, max: 1000 }) },
      { requiredKeys: ['kind', 'id', 'entity'] },
    )
    .map((f) => (f.events !== true && f.state !== true ? { ...f, state: true } : f))
    .map((f) => (f.fromSequenceNr !== undefined && f.events !== true ? { ...f, events: true } : f)),
  fc.record({ kind: fc.constant('unsubscribe'), id: requestId, subscription: requestId }),
  fc.record({ kind: fc.constant('ping'), id: requestId }),
);
const keys = fc.constantFrom('kind', 'id', 'entity', 'command', 'input', 'events', 'state', 'fromSequenceNr', 'subscription', 'payload');
/** Valid frames, and valid frames with one thing changed: a key removed, a value replaced (or added), a field of the entity changed. */
const frame = fc.oneof(
  valid,
  fc.tuple(valid, keys).map(([f, k]) => {
    const copy: Record<string, unknown> = { ...f };
    delete copy[k];
    return copy;
  }),
  fc.tuple(valid, keys, edgy).map(([f, k, v]) => ({ ...f, [k]: v })),
  fc.tuple(valid, fc.constantFrom('type', 'id', 'region'), edgy).map(([f, k, v]) => ({ ...f, entity: { ...((f as { entity?: object }).entity ?? {}), [k]: v } })),
);

/** As JSON would deliver it: no keys with undefined values. */
function jsonShaped(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

describe('request validation', () => {
  it('parseRequest accepts exactly the frames the zod schemas accept', () => {
    let accepted = 0;
    fc.assert(
      fc.property(frame, (raw) => {
        const f = jsonShaped(raw);
        const byZod = requestFrameSchemas.request.safeParse(f).success;
        let byHand = true;
        try {
          parseRequest(f);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
          expect((err as FrameError).code).toBe('INVALID_FRAME');
          byHand = false;
        }
        expect(byHand).toBe(byZod);
        accepted += byZod ? 1 : 0;
      }),
      { numRuns: 20_000 },
    );
    // The property is only as good as its mix: plenty of frames on each side of the line.
    expect(accepted).toBeGreaterThan(2000);
    expect(accepted).toBeLessThan(18_000);
  });

  it('accepts the frames of the protocol’s examples', () => {
    const valid = [
      { kind: 'command', id: 1, entity: { type: 'cart', id: 'c1' }, command: 'addItem', input: { sku: 'a', name: 'A', quantity: 1 } },
      { kind: 'command', id: 'r-1', entity: { type: 'cart', id: 'c1' }, command: 'getCart' },
      { kind: 'subscribe', id: 2, entity: { type: 'cart', id: 'c1' }, state: true },
      { kind: 'subscribe', id: 3, entity: { type: 'cart', id: 'c1' }, events: true, fromSequenceNr: 5 },
      { kind: 'unsubscribe', id: 4, subscription: 2 },
      { kind: 'ping', id: 5 },
    ];
    for (const f of valid) {
      expect(parseRequest(f)).toBe(f);
      expect(requestFrameSchemas.request.safeParse(f).success).toBe(true);
    }
  });
});

describe('the msgpack pre-scan', () => {
  it('accepts what msgpackr encodes from JSON-like values, and the decoded value is the same', () => {
    const codec = msgpackCodec(1000);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        fc.pre(!/"(__proto__|constructor|prototype)"/.test(JSON.stringify(v)));
        const frame = { kind: 'ping', id: 1, input: v };
        const bytes = packr.pack(frame);
        scanMsgpack(bytes, 1000);
        expect(codec.decode(bytes, true)).toEqual(packr.unpack(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with the JSON checks on nesting depth and unsafe keys', () => {
    const json = jsonCodec(5);
    const msgpack = msgpackCodec(5);
    const key = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'a', 'b'), fc.string({ maxLength: 3 }));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.string(), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(key, tie('node'), { maxKeys: 3 })),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const outcome = (decode: () => unknown): string => {
          try {
            decode();
            return 'ok';
          } catch (err) {
            return (err as FrameError).code;
          }
        };
        // JSON.parse keeps "__proto__" as a plain key, as a client's JSON would.
        const text = JSON.stringify({ v });
        const parsed: unknown = JSON.parse(text);
        const bytes = packr.pack(parsed);
        const a = outcome(() => json.decode(Buffer.from(text), false));
        const b = outcome(() => msgpack.decode(bytes, true));
        // Both refuse the same frames; when both problems exist the first one met may differ.
        expect(a === 'ok').toBe(b === 'ok');
      }),
      { numRuns: 5000 },
    );
  });

  it('on arbitrary bytes, either refuses with a frame error or msgpackr decodes without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        let scanned = true;
        try {
          scanMsgpack(bytes, 8);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
          scanned = false;
        }
        if (scanned) expect(() => packr.unpack(bytes)).not.toThrow();
      }),
      { numRuns: 50_000 },
    );
  });

  it('never trusts a length prefix: huge counts and lengths with no data are refused at once', () => {
    for (const bytes of [[0xdd, 0xff, 0xff, 0xff, 0xff], [0xdf, 0xff, 0xff, 0xff, 0xff], [0xdb, 0xff, 0xff, 0xff, 0xff], [0xc6, 0x7f, 0xff, 0xff, 0xff]]) {
      expect(() => scanMsgpack(new Uint8Array(bytes), 64)).toThrow(/truncated/);
    }
  });
});

describe('checkValue', () => {
  it('counts the frame itself as depth 1', () => {
    expect(() => checkValue([[[]]], 1, 3)).not.toThrow();
    expect(() => checkValue([[[[]]]], 1, 3)).toThrow(expect.objectContaining({ code: 'NESTING_TOO_DEEP' }));
  });
});
