import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteArena } from '../../src/persistence/memory/byte-arena.js';

describe('ByteArena', () => {
  it('gives back exactly what was added, across chunk boundaries and for values larger than a chunk', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 200 }), fc.integer({ min: 1, max: 64 }), (values, chunkSize) => {
        const arena = new ByteArena(chunkSize);
        const offsets = values.map((v) => arena.add(v));
        values.forEach((v, i) => expect(arena.copy(offsets[i] as number, v.byteLength)).toEqual(v));
      }),
    );
  });

  it('hands out copies: changing one does not change what is stored', () => {
    const arena = new ByteArena(16);
    const at = arena.add(Uint8Array.from([1, 2, 3]));
    const copy = arena.copy(at, 3);
    copy[0] = 99;
    expect(arena.copy(at, 3)).toEqual(Uint8Array.from([1, 2, 3]));
  });
});
