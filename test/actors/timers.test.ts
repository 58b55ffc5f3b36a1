import { describe, expect, it } from 'vitest';
import { type Behavior } from '../../src/index.js';
import { testSystem } from './support.js';

type Msg = { type: 'single' | 'interval' | 'cancel' | 'restart'; key: string } | { type: 'tick'; key: string };

function timed(ticks: { key: string; at: number }[]): Behavior<Msg, undefined> {
  return {
    receive(s, m, ctx) {
      switch (m.type) {
        case 'single':
          ctx.timers.startSingle(m.key, { type: 'tick', key: m.key }, 100);
          break;
        case 'restart':
          ctx.timers.startSingle(m.key, { type: 'tick', key: `${m.key}-restarted` }, 100);
          break;
        case 'interval':
          ctx.timers.startInterval(m.key, { type: 'tick', key: m.key }, 50);
          break;
        case 'cancel':
          ctx.timers.cancel(m.key);
          break;
        case 'tick':
          ticks.push({ key: m.key, at: ctx.system.clock.now() });
          break;
      }
      return s;
    },
  };
}

describe('actor timers on the test clock', () => {
  it('a single timer fires once after its delay', async () => {
    const { system, clock } = testSystem();
    const ticks: { key: string; at: number }[] = [];
    const ref = system.spawn(timed(ticks));
    ref.tell({ type: 'single', key: 'a' });
    await system.whenIdle();
    clock.advance(99);
    await system.whenIdle();
    expect(ticks).toEqual([]);
    clock.advance(1);
    await system.whenIdle();
    clock.advance(1000);
    await system.whenIdle();
    expect(ticks).toEqual([{ key: 'a', at: 100 }]);
  });

  it('an interval fires at a fixed rate until cancelled', async () => {
    const { system, clock } = testSystem();
    const ticks: { key: string; at: number }[] = [];
    const ref = system.spawn(timed(ticks));
    ref.tell({ type: 'interval', key: 'i' });
    await system.whenIdle();
    for (let i = 0; i < 4; i++) {
      clock.advance(50);
      await system.whenIdle();
    }
    ref.tell({ type: 'cancel', key: 'i' });
    await system.whenIdle();
    clock.advance(500);
    await system.whenIdle();
    expect(ticks.map((t) => t.at)).toEqual([50, 100, 150, 200]);
  });

  it('restarting a key replaces the timer', async () => {
    const { system, clock } = testSystem();
    const ticks: { key: string; at: number }[] = [];
    const ref = system.spawn(timed(ticks));
    ref.tell({ type: 'single', key: 'k' });
    await system.whenIdle();
    clock.advance(60);
    ref.tell({ type: 'restart', key: 'k' });
    await system.whenIdle();
    clock.advance(40); // t=100: the original timer would have fired now
    await system.whenIdle();
    expect(ticks).toEqual([]);
    clock.advance(60); // t=160: the restarted one fires
    await system.whenIdle();
    clock.advance(1000);
    await system.whenIdle();
    expect(ticks).toEqual([{ key: 'k-restarted', at: 160 }]);
  });

  it('cancel also discards a timer message that is already queued', async () => {
    const { system, clock } = testSystem();
    const ticks: { key: string; at: number }[] = [];
    // An actor that, when told 'fire-and-cancel', advances the clock (the timer message lands in
    // its own mailbox behind the current one) and then cancels the timer.
    const ref = system.spawn<Msg | 'fire-and-cancel', undefined>({
      receive(s, m, ctx) {
        if (m === 'fire-and-cancel') {
          clock.advance(100);
          ctx.timers.cancel('k');
          return s;
        }
        return (timed(ticks).receive as (s: undefined, m: Msg, c: typeof ctx) => undefined)(s, m, ctx);
      },
    });
    ref.tell({ type: 'single', key: 'k' });
    ref.tell('fire-and-cancel');
    await system.whenIdle();
    expect(ticks).toEqual([]);
  });

  it('all timers are cancelled when the actor stops', async () => {
    const { system, clock } = testSystem();
    const ref = system.spawn(timed([]));
    ref.tell({ type: 'interval', key: 'a' });
    ref.tell({ type: 'single', key: 'b' });
    await system.whenIdle();
    expect(clock.pending).toBe(2);
    await ref.stop();
    expect(clock.pending).toBe(0);
  });

  it('rejects bad delays with INVALID_OPTION', async () => {
    const { system } = testSystem();
    const errors: unknown[] = [];
    const ref = system.spawn<number, undefined>({
      receive(s, ms, ctx) {
        try {
          ctx.timers.startInterval('x', 1, ms);
        } catch (e) {
          errors.push(e);
        }
        return s;
      },
    });
    ref.tell(0);
    ref.tell(-5);
    ref.tell(Number.NaN);
    await system.whenIdle();
    expect(errors).toHaveLength(3);
    expect(errors.every((e) => (e as { code?: string }).code === 'INVALID_OPTION')).toBe(true);
  });

  it('system.sendAfter delivers once and can be cancelled', async () => {
    const { system, clock } = testSystem();
    const got: string[] = [];
    const ref = system.spawn<string, undefined>({
      receive(s, m) {
        got.push(m);
        return s;
      },
    });
    const t1 = system.sendAfter(ref, 'one', 10);
    const t2 = system.sendAfter(ref, 'two', 20);
    expect(t2.cancel()).toBe(true);
    clock.advance(30);
    await system.whenIdle();
    expect(got).toEqual(['one']);
    expect(t1.cancel()).toBe(false);
  });
  it('an interval whose actor is busy past several ticks delivers one tick when it is free, not a burst', async () => {
    const { system, clock } = testSystem();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ticks: number[] = [];
    system.spawn<string, undefined>({
      init: (ctx) => (ctx.timers.startInterval('t', 'tick', 10), undefined),
      async receive(s) {
        ticks.push(clock.now());
        if (ticks.length === 1) await gate; // busy for ten intervals
        return s;
      },
    });
    clock.advance(10);
    await system.whenIdle();
    clock.advance(100);
    await system.whenIdle();
    release();
    await system.whenIdle();
    expect(ticks).toEqual([10, 110]);
    clock.advance(10);
    await system.whenIdle();
    expect(ticks).toEqual([10, 110, 120]); // and the rate goes on
  });
});
