// The pure parts of durable timers: when a periodic timer fires next, and the retry backoff.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { nextOccurrence } from '../../src/entities/timers/schedule.js';
import { retryDelay } from '../../src/entities/timers/timer-service.js';

describe('nextOccurrence', () => {
  it('is null for a one-shot timer', () => {
    expect(nextOccurrence(1000, 0, 5000)).toBeNull();
  });

  it('is the first occurrence on the period grid after now: missed periods are skipped, never fired one by one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 1, max: 1e7 }), fc.integer({ min: -1e7, max: 1e9 }), (due, every, offset) => {
        const now = due + offset;
        const next = nextOccurrence(due, every, now) as number;
        expect(next).toBeGreaterThan(due);
        expect(next).toBeGreaterThan(now);
        expect((next - due) % every).toBe(0);
        // The earliest such: one period before it is not after both now and due.
        expect(next - every <= Math.max(now, due)).toBe(true);
      }),
    );
  });

  it('examples', () => {
    expect(nextOccurrence(1000, 1000, 1000)).toBe(2000);
    expect(nextOccurrence(1000, 1000, 1500)).toBe(2000);
    expect(nextOccurrence(1000, 1000, 11_500)).toBe(12_000);
    expect(nextOccurrence(1000, 1000, 500)).toBe(2000);
  });
});

describe('retryDelay', () => {
  it('doubles from minMs and is capped at maxMs', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, 1000, 10_000))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 1e6 }), (n, min, max) => {
        const d = retryDelay(n, min, max);
        expect(d).toBeLessThanOrEqual(max);
        expect(d).toBeGreaterThanOrEqual(Math.min(min, max));
        expect(retryDelay(n + 1, min, max)).toBeGreaterThanOrEqual(d);
      }),
    );
  });
});
