import { describe, expect, it } from 'vitest';
import { type Clock, ManualClock, systemClock, systemTimeOf } from '../../src/index.js';

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

  it('keeps wall-clock time beside monotonic time, and advance() moves both, also at each timer', () => {
    const wall = Date.UTC(2030, 0, 1);
    const clock = new ManualClock({ monotonic: 100, wall });
    expect(clock.now()).toBe(100);
    expect(clock.systemTime()).toBe(wall);
    const seen: [number, number][] = [];
    clock.setTimeout(() => seen.push([clock.now(), clock.systemTime()]), 250);
    clock.advance(1000);
    expect(seen).toEqual([[350, wall + 250]]);
    expect(clock.now()).toBe(1100);
    expect(clock.systemTime()).toBe(wall + 1000);
    expect(clock.advanceToNext()).toBe(false);
    clock.setTimeout(() => {}, 40);
    clock.advanceToNext();
    expect(clock.systemTime()).toBe(wall + 1040);
  });

  it('without a wall start, wall-clock time starts where monotonic time does (the clock reads as before)', () => {
    expect(new ManualClock(42).systemTime()).toBe(42);
    expect(new ManualClock().systemTime()).toBe(0);
    expect(new ManualClock({ wall: 7 }).now()).toBe(0);
  });

  it('setSystemTime steps wall-clock time alone: monotonic time and timers do not notice', () => {
    const clock = new ManualClock({ wall: Date.UTC(2030, 0, 1) });
    let fired = 0;
    clock.setTimeout(() => fired++, 100);
    clock.setSystemTime(Date.UTC(2029, 0, 1)); // set back a year
    expect(clock.systemTime()).toBe(Date.UTC(2029, 0, 1));
    expect(clock.now()).toBe(0);
    expect(fired).toBe(0);
    clock.advance(100);
    expect(fired).toBe(1);
    expect(clock.systemTime()).toBe(Date.UTC(2029, 0, 1) + 100);
  });

  it('refuses a start or a wall time that is not a finite number', () => {
    expect(() => new ManualClock({ wall: Number.NaN })).toThrow(RangeError);
    expect(() => new ManualClock({ monotonic: Infinity })).toThrow(RangeError);
    expect(() => new ManualClock().setSystemTime(Number.NaN)).toThrow(RangeError);
  });
});

describe('systemClock', () => {
  it('reads wall-clock time as Date.now() does, and monotonic time apart from it', () => {
    const before = Date.now();
    const wall = systemClock.systemTime?.();
    const after = Date.now();
    expect(wall).toBeGreaterThanOrEqual(before);
    expect(wall).toBeLessThanOrEqual(after);
    // Monotonic time counts from the process's start, nowhere near the epoch reading.
    expect(Math.abs(systemClock.now() - before)).toBeGreaterThan(1e12);
    expect(systemTimeOf(systemClock)).toBeGreaterThanOrEqual(after);
  });

  it('a clock without systemTime (written before it existed) is read as Date.now()', () => {
    const old: Clock = { now: () => 5, setTimeout: () => ({}), clearTimeout: () => {} };
    const before = Date.now();
    const wall = systemTimeOf(old);
    expect(wall).toBeGreaterThanOrEqual(before);
    expect(wall).toBeLessThanOrEqual(Date.now());
  });
});
