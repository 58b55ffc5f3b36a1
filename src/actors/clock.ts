/**
 * Time, as the actor system sees it. Timers, ask timeouts, restart intensity and passivation all
 * go through the system's clock, so a test can swap in a {@link ManualClock} and advance time
 * instead of sleeping.
 */

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  /** Milliseconds on a monotonic scale (not wall-clock time). */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock: `performance.now()` and Node's timers. As with Node's own timers, a pending
 * timer keeps the process alive (an actor's interval, a supervisor's backoff); stop the system
 * to let the process exit.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, ms) {
    return setTimeout(callback, ms);
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

interface ManualTimer {
  due: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires every timer that falls due within
 * the window, in due order (ties in scheduling order), setting `now()` to each timer's due time
 * as it fires, so timers scheduled by callbacks inside the window fire too.
 *
 * ```ts
 * const clock = new ManualClock();
 * const system = createActorSystem({ clock });
 * clock.advance(5_000); // every ask still pending now times out
 * ```
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
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
