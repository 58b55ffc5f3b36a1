// The gRPC front's routing key (entity-key.ts) as a property: for any message and any subset of
// its fields marked `(kalix.field).entity_key`, exactly those fields are found, in declaration
// order, and a call's entity id is their values joined by '-'.
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { ENTITY_KEY_SEPARATOR, entityKeyFields, keyExtractor } from '../../src/proxy/entity-key.js';
import { fileDescriptorSet, withEntityKey } from './fake-user-function.js';

interface Field {
  readonly name: string;
  readonly number: number;
  readonly type: 'string' | 'int64' | 'int32' | 'bool';
  readonly key: boolean;
}

const fieldsArb = fc
  .uniqueArray(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 6 })
  .chain((numbers) =>
    fc.tuple(
      ...numbers.map((number, i) =>
        fc.record({ name: fc.constant(`f${i}`), number: fc.constant(number), type: fc.constantFrom('string' as const, 'int64' as const, 'int32' as const, 'bool' as const), key: fc.boolean() }),
      ),
    ),
  );

function rootOf(fields: readonly Field[]): protobuf.Root {
  const body = fields.map((f) => `  ${f.type} ${f.name} = ${f.number};`).join('\n');
  return protobuf.parse(`syntax = "proto3";\npackage p.q;\nmessage Cmd {\n${body}\n}\nmessage Other { string id = 1; }\n`).root;
}

const valueOf = (t: Field['type']): fc.Arbitrary<unknown> =>
  t === 'string' ? fc.string() : t === 'bool' ? fc.boolean() : t === 'int32' ? fc.integer() : fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((b) => b.toString());

describe('entity keys from the descriptors', () => {
  it('finds exactly the marked fields, in declaration order, and joins their values with "-"', () => {
    fc.assert(
      fc.property(
        fieldsArb.chain((fields) => fc.tuple(fc.constant(fields), fc.tuple(...fields.map((f) => valueOf(f.type))))),
        ([fields, values]) => {
          const root = rootOf(fields);
          let set = fileDescriptorSet(root);
          for (const f of fields) if (f.key) set = withEntityKey(set, 'Cmd', f.name);
          const keys = entityKeyFields(set);
          const marked = fields.filter((f) => f.key);
          expect(keys.has('p.q.Other')).toBe(false);
          if (marked.length === 0) {
            expect(keys.has('p.q.Cmd')).toBe(false);
            return;
          }
          expect(keys.get('p.q.Cmd')).toEqual(marked.map((f) => f.number));
          const type = root.lookupType('p.q.Cmd');
          const object = Object.fromEntries(fields.map((f, i) => [f.name, values[i]]));
          const message = type.decode(type.encode(type.fromObject(object)).finish());
          const expected = marked.map((f) => {
            const v = values[fields.indexOf(f)];
            return f.type === 'int64' ? BigInt(v as string).toString() : String(v);
          });
          expect(keyExtractor(type, keys.get('p.q.Cmd') ?? [])(message)).toBe(expected.join(ENTITY_KEY_SEPARATOR));
        },
      ),
    );
  });

  it('a key field that is a message is refused at start (INVALID_DESCRIPTOR)', () => {
    const root = protobuf.parse('syntax = "proto3"; message Inner { string a = 1; } message Cmd { Inner k = 1; }').root;
    root.resolveAll();
    const type = root.lookupType('Cmd');
    expect(() => keyExtractor(type, [1])).toThrow(expect.objectContaining({ code: 'INVALID_DESCRIPTOR', message: 'Cmd.k: an entity key must be a scalar field' }));
    expect(() => keyExtractor(type, [7])).toThrow(expect.objectContaining({ code: 'INVALID_DESCRIPTOR' }));
  });
});
