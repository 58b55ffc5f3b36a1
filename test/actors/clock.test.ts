import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/index.js';

describe('ManualClock', () => {
  it('fires timers in due order, ties in scheduling order, with now() at each due time', () => {
    const clock = new ManualClock(100);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
    clock.advance(15);
    expect(fired).toEqual(['a@110']);
    expect(clock.now()).toBe(115);
    clock.advance(100);
    expect(fired).toEqual(['a@110', 'b@120', 'c@120']);
    expect(clock.now()).toBe(215);
  });

  it('fires timers that callbacks schedule inside the advanced window', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const tick = (): void => {
      fired.push(clock.now());
      if (fired.length < 5) clock.setTimeout(tick, 10);
    };
    clock.setTimeout(tick, 10);
    clock.advance(35);
    expect(fired).toEqual([10, 20, 30]);
    clock.advance(100);
    expect(fired).toEqual([10, 20, 30, 40, 50]);
  });

  it('does not fire cancelled timers', () => {
    const clock = new ManualClock();
    let fired = false;
    const h = clock.setTimeout(() => (fired = true), 5);
    clock.clearTimeout(h);
    expect(clock.pending).toBe(0);
    clock.advance(10);
    expect(fired).toBe(false);
  });

  it('advanceToNext jumps to the next timer', () => {
    const clock = new ManualClock();
    let fired = 0;
    clock.setTimeout(() => fired++, 1000);
    expect(clock.advanceToNext()).toBe(true);
    expect(clock.now()).toBe(1000);
    expect(fired).toBe(1);
    expect(clock.advanceToNext()).toBe(false);
  });

  it('rejects going backwards', () => {
    expect(() => new ManualClock().advance(-1)).toThrow(RangeError);
  });
});
