/**
 * Time, as the actor system sees it. Timers, ask timeouts, restart intensity and passivation all
 * go through the system's clock, so a test can swap in a {@link ManualClock} and advance time
 * instead of sleeping.
 *
 * A clock has two readings, as the BEAM does: `now()` is monotonic time
 * (`erlang:monotonic_time`): it never jumps, so timers and durations use it, but its zero is
 * arbitrary and it means nothing after a restart. `systemTime()` is wall-clock time in epoch
 * milliseconds (`os:system_time`, `Date.now()`): the time to persist or show, which may jump when
 * the host's clock is set.
 */

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  /** Milliseconds on a monotonic scale (not wall-clock time): for timers and durations. */
  now(): number;
  /**
   * Wall-clock time, in milliseconds since the Unix epoch. Optional so that a clock written
   * before it existed still fits: a clock without it is read as `Date.now()` (see
   * {@link systemTimeOf}).
   */
  systemTime?(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The wall-clock time of `clock` in epoch milliseconds: its `systemTime()`, or `Date.now()` if it has none. */
export function systemTimeOf(clock: Clock): number {
  return clock.systemTime !== undefined ? clock.systemTime() : Date.now();
}

/**
 * The real clock: `performance.now()` for monotonic time, `Date.now()` for wall-clock time, and
 * Node's timers. As with Node's own timers, a pending timer keeps the process alive (an actor's
 * interval, a supervisor's backoff); stop the system to let the process exit.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  systemTime: () => Date.now(),
  setTimeout(callback, ms) {
    return setTimeout(callback, ms);
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/** Where a {@link ManualClock} starts. */
export interface ManualClockOptions {
  /** The first `now()` reading (monotonic). Default 0. */
  readonly monotonic?: number;
  /** The first `systemTime()` reading, in epoch milliseconds, e.g. `Date.UTC(2030, 0, 1)`. Default: the monotonic start. */
  readonly wall?: number;
}

interface ManualTimer {
  due: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires every timer that falls due within
 * the window, in due order (ties in scheduling order), setting `now()` to each timer's due time
 * as it fires, so timers scheduled by callbacks inside the window fire too. Wall-clock time
 * moves with it, by the same amount; `setSystemTime` sets it alone, as when the host's clock is
 * set (timers are on monotonic time and do not notice).
 *
 * ```ts
 * const clock = new ManualClock({ wall: Date.UTC(2030, 0, 1) });
 * const system = createActorSystem({ clock });
 * clock.advance(5_000); // every ask still pending now times out; systemTime() is 5 s later too
 * ```
 */
export class ManualClock implements Clock {
  private current: number;
  /** systemTime() - now(): both move together, so only their distance is kept. */
  private wallOffset: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  /** `start`: the first monotonic reading (the form this constructor had before wall-clock time), or both starts. */
  constructor(start: number | ManualClockOptions = 0) {
    const options = typeof start === 'number' ? { monotonic: start } : start;
    this.current = checkTime('monotonic', options.monotonic ?? 0);
    this.wallOffset = checkTime('wall', options.wall ?? this.current) - this.current;
  }

  now(): number {
    return this.current;
  }

  systemTime(): number {
    return this.current + this.wallOffset;
  }

  /** Sets wall-clock time (epoch ms) without moving monotonic time or firing timers: a clock step, forwards or back. */
  setSystemTime(epochMs: number): void {
    this.wallOffset = checkTime('epochMs', epochMs) - this.current;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = {
      due: this.current + Math.max(0, ms),
      seq: this.seq++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as ManualTimer).cancelled = true;
  }

  /** Number of timers scheduled and not yet fired or cancelled. */
  get pending(): number {
    let n = 0;
    for (const t of this.timers) if (!t.cancelled) n++;
    return n;
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance: ms must be >= 0, got ${ms}`);
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (next === undefined) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.current = next.due;
      next.callback();
    }
    this.current = target;
  }

  /** Moves time to the next pending timer and fires everything due then; returns false if none. */
  advanceToNext(): boolean {
    const next = this.nextDue(Infinity);
    if (next === undefined) return false;
    this.advance(next.due - this.current);
    return true;
  }

  private nextDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    this.timers = this.timers.filter((t) => !t.cancelled);
    for (const t of this.timers) {
      if (t.due > limit) continue;
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

function checkTime(field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`ManualClock: ${field} must be a finite number, got ${String(value)}`);
  return value;
}

/**
 * Makes a timer handle keep the process alive or not, when it is a Node timer (a `ManualClock`
 * handle has nothing to do with the process and is left alone).
 * @internal
 */
export function keepAlive(handle: TimerHandle, alive: boolean): void {
  const h = handle as { ref?: () => void; unref?: () => void };
  if (typeof h.ref === 'function' && typeof h.unref === 'function') {
    if (alive) h.ref();
    else h.unref();
  }
}
