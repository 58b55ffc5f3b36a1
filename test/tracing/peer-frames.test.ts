// The trace context of a forwarded command, in the node-to-node command frame (src/cluster/peer-frames.ts).
import { describe, expect, it } from 'vitest';
import { COMMAND, decodeFrame, decodeMessage, encodeBatch, encodeFrame } from '../../src/cluster/peer-frames.js';
import { pack } from '../gateway/support.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('a traced forwarded command', () => {
  it('carries its traceparent as a 9th element, alone or in a batch; an untraced one has 8', () => {
    expect(decodeFrame(encodeFrame([COMMAND, 1, 'cart', 'c1', 'add', { n: 1 }, 500, true, TP]))).toEqual([COMMAND, 1, 'cart', 'c1', 'add', { n: 1 }, 500, true, TP]);
    expect(decodeFrame(encodeFrame([COMMAND, 1, 'cart', 'c1', 'get', undefined, 500, true, TP]))).toEqual([COMMAND, 1, 'cart', 'c1', 'get', undefined, 500, true, TP]);
    expect(decodeFrame(encodeFrame([COMMAND, 2, 'cart', 'c1', 'get', undefined, 500, true]))).toHaveLength(8);
    expect(decodeMessage(encodeBatch([[COMMAND, 3, 't', 'e', 'c', 1, 5, false, TP], [COMMAND, 4, 't', 'e', 'c', 2, 5, false]]))).toEqual([
      [COMMAND, 3, 't', 'e', 'c', 1, 5, false, TP],
      [COMMAND, 4, 't', 'e', 'c', 2, 5, false],
    ]);
  });

  it('a 9th element that is not a string makes the frame malformed (dropped)', () => {
    expect(decodeFrame(pack([COMMAND, 1, 't', 'e', 'c', [], 5, true, 42]))).toBeUndefined();
    expect(decodeFrame(pack([COMMAND, 1, 't', 'e', 'c', [], 5, true, TP, 'more']))).toBeUndefined();
  });
});
