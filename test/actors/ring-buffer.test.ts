import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/actors/ring-buffer.js';

describe('RingBuffer', () => {
  it('is FIFO across growth', () => {
    const rb = new RingBuffer<number>(2);
    for (let i = 0; i < 100; i++) rb.push(i);
    const out: number[] = [];
    rb.drain((x) => out.push(x));
    expect(out).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(rb.length).toBe(0);
    expect(rb.shift()).toBeUndefined();
  });

  it('unshift puts items in front, also after wrap-around', () => {
    const rb = new RingBuffer<number>(4);
    rb.push(1);
    rb.push(2);
    rb.shift();
    rb.push(3);
    rb.push(4);
    rb.unshift(0);
    rb.unshift(-1); // forces growth while wrapped
    const out: number[] = [];
    rb.drain((x) => out.push(x));
    expect(out).toEqual([-1, 0, 2, 3, 4]);
  });

  it('gives memory back after a burst and keeps working', () => {
    const rb = new RingBuffer<number>(4);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20_000; i++) rb.push(i);
      rb.shift();
      rb.unshift(-1);
      const out: number[] = [];
      rb.drain((x) => out.push(x));
      expect(out).toHaveLength(20_000);
      expect(out[0]).toBe(-1);
      expect(out[19_999]).toBe(19_999);
      expect((rb as unknown as { buf: unknown[] }).buf.length).toBeLessThanOrEqual(16);
    }
  });

  it('behaves like an array deque for any sequence of operations', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), v: fc.integer() }),
      fc.record({ kind: fc.constant('unshift' as const), v: fc.integer() }),
      fc.record({ kind: fc.constant('shift' as const) }),
      fc.record({ kind: fc.constant('filter' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const rb = new RingBuffer<number>(2);
        const model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'push') {
            rb.push(o.v);
            model.push(o.v);
          } else if (o.kind === 'unshift') {
            rb.unshift(o.v);
            model.unshift(o.v);
          } else if (o.kind === 'shift') {
            expect(rb.shift()).toBe(model.shift());
          } else {
            rb.filter((x) => x % 2 === 0);
            model.splice(0, model.length, ...model.filter((x) => x % 2 === 0));
          }
          expect(rb.length).toBe(model.length);
          expect(rb.peek()).toBe(model[0]);
        }
      }),
    );
  });
});
