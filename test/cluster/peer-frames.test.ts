import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMAND, decodeFrame, encodeFrame, FAILURE, REPLY } from '../../src/cluster/peer-frames.js';

describe('node-to-node frames', () => {
  it('a command without input arrives without input (not as null), one with null as null', () => {
    expect(decodeFrame(encodeFrame([COMMAND, 1, 'cart', 'c1', 'getCart', undefined, 500, true]))?.[5]).toBeUndefined();
    expect(decodeFrame(encodeFrame([COMMAND, 1, 'cart', 'c1', 'getCart', null, 500, true]))?.[5]).toBeNull();
  });

  it('round-trips commands, replies and failures with any plain input', () => {
    fc.assert(
      // JSON values as JSON has them: -0 is 0 in JSON and in msgpack alike (as over the gateway).
      fc.property(fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown), fc.nat(), fc.string(), (input, id, text) => {
        expect(decodeFrame(encodeFrame([COMMAND, id, 't', text, 'c', input, 10, false]))).toEqual([COMMAND, id, 't', text, 'c', input, 10, false]);
        expect(decodeFrame(encodeFrame([REPLY, id, input]))).toEqual([REPLY, id, input]);
        expect(decodeFrame(encodeFrame([FAILURE, id, 'NOT_SHARD_OWNER', text, 'n2', 3]))).toEqual([FAILURE, id, 'NOT_SHARD_OWNER', text, 'n2', 3]);
      }),
    );
  });

  it('anything else decodes to undefined (a bad frame is dropped, not thrown)', () => {
    expect(decodeFrame(Buffer.from([0xc1]))).toBeUndefined();
    expect(decodeFrame(encodeFrame([REPLY, 1, 2]).subarray(0, 1))).toBeUndefined();
    expect(decodeFrame(Buffer.from(JSON.stringify([0, 1])))).toBeUndefined();
  });
});
