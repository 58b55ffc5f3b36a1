import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMAND, decodeFrame, decodeMessage, encodeFrame, FAILURE, FrameQueue, REPLY } from '../../src/cluster/peer-frames.js';

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

describe('frames sent in one turn', () => {
  it('go out as one message that decodes to the same frames, in order; a lone frame goes alone', async () => {
    const sent: Buffer[] = [];
    const q = new FrameQueue((d) => sent.push(d));
    q.push([REPLY, 1, 'a']);
    q.push([COMMAND, 2, 't', 'e', 'c', undefined, 5, true]);
    q.push([FAILURE, 3, 'X', 'm', null, 0]);
    await Promise.resolve();
    expect(sent).toHaveLength(1);
    expect(decodeMessage(sent[0] as Buffer)).toEqual([[REPLY, 1, 'a'], [COMMAND, 2, 't', 'e', 'c', undefined, 5, true], [FAILURE, 3, 'X', 'm', null, 0]]);
    q.push([REPLY, 4, 'b']);
    await Promise.resolve();
    expect(sent).toHaveLength(2);
    expect(decodeFrame(sent[1] as Buffer)).toEqual([REPLY, 4, 'b']);
  });

  it('a frame that cannot be encoded is replaced alone; the rest of its batch goes', async () => {
    const sent: Buffer[] = [];
    const q = new FrameQueue(
      (d) => sent.push(d),
      (f, err) => [FAILURE, f[1], 'ENCODE_FAILED', err.message, null, 0],
    );
    q.push([REPLY, 1, 'ok']);
    q.push([REPLY, 2, 10n ** 30n]);
    await Promise.resolve();
    const frames = decodeMessage(sent[0] as Buffer);
    expect(frames[0]).toEqual([REPLY, 1, 'ok']);
    expect(frames[1]?.[0]).toBe(FAILURE);
    expect(frames[1]?.[2]).toBe('ENCODE_FAILED');
  });
});
