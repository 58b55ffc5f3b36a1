import type { Clock, TimerHandle } from './clock.js';
import { InvalidOptionError } from './errors.js';
import { TimerEnvelope } from './envelope.js';
import type { Timers } from './ref.js';

interface Entry {
  generation: number;
  handle: TimerHandle;
  message: unknown;
  /** 0 for single timers. */
  interval: number;
  nextDue: number;
  /** A message of this timer is in the mailbox, not yet delivered: an interval adds no other. */
  queued: boolean;
}

/** What timers need from their actor. @internal */
export interface TimerOwner {
  enqueueInternal(item: TimerEnvelope): void;
  /** False once the actor is dead: its timers are cancelled then, and none may start after. */
  readonly alive: boolean;
}

/**
 * Keyed timers owned by one actor, on the system clock. Each timer message carries its key and
 * generation; when it reaches the front of the mailbox it is delivered only if that timer is
 * still current, so `cancel` also discards a message already queued (Akka's guarantee).
 * @internal
 */
export class ActorTimers implements Timers<unknown> {
  private readonly entries = new Map<unknown, Entry>();
  private generation = 0;

  constructor(
    private readonly owner: TimerOwner,
    private readonly clock: Clock,
  ) {}

  startSingle(key: unknown, message: unknown, delayMs: number): void {
    checkDelay('delayMs', delayMs, 0);
    this.start(key, message, delayMs, 0);
  }

  startInterval(key: unknown, message: unknown, intervalMs: number): void {
    checkDelay('intervalMs', intervalMs, Number.MIN_VALUE);
    this.start(key, message, intervalMs, intervalMs);
  }

  cancel(key: unknown): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.clock.clearTimeout(e.handle);
    this.entries.delete(key);
  }

  isActive(key: unknown): boolean {
    return this.entries.has(key);
  }

  cancelAll(): void {
    for (const e of this.entries.values()) this.clock.clearTimeout(e.handle);
    this.entries.clear();
  }

  /** Called when a timer message reaches the front of the mailbox: deliver it or drop it as stale. */
  accept(env: TimerEnvelope): boolean {
    const e = this.entries.get(env.key);
    if (e === undefined || e.generation !== env.generation) return false;
    e.queued = false;
    if (e.interval === 0) this.entries.delete(env.key);
    return true;
  }

  private start(key: unknown, message: unknown, delay: number, interval: number): void {
    this.cancel(key);
    // An async handler of a killed actor still runs to its end; a timer it starts would never
    // be cancelled (the actor's death already cancelled its timers) and, repeating, would keep
    // the process alive.
    if (!this.owner.alive) return;
    const generation = ++this.generation;
    const entry: Entry = {
      generation,
      message,
      interval,
      nextDue: this.clock.now() + delay,
      queued: false,
      handle: undefined as unknown as TimerHandle,
    };
    entry.handle = this.clock.setTimeout(() => this.fire(key, entry), delay);
    this.entries.set(key, entry);
  }

  private fire(key: unknown, entry: Entry): void {
    if (this.entries.get(key) !== entry) return;
    if (!this.owner.alive) {
      this.entries.delete(key);
      return;
    }
    // An actor busy for longer than the interval (an async handler) gets one tick when it is
    // free again, not one per interval missed: late ticks are not bunched.
    if (!entry.queued) {
      entry.queued = true;
      this.owner.enqueueInternal(new TimerEnvelope(key, entry.generation, entry.message));
    }
    if (entry.interval > 0) {
      // Fixed rate: the next tick is due one interval after the previous due time; ticks missed
      // while the loop was blocked are skipped rather than delivered in a burst.
      const now = this.clock.now();
      let next = entry.nextDue + entry.interval;
      if (next <= now) next = now + entry.interval - ((now - entry.nextDue) % entry.interval);
      entry.nextDue = next;
      entry.handle = this.clock.setTimeout(() => this.fire(key, entry), next - now);
    }
  }
}

function checkDelay(field: string, ms: number, min: number): void {
  if (typeof ms !== 'number' || !(ms >= min) || !Number.isFinite(ms)) {
    throw new InvalidOptionError(field, `must be a finite number >= ${min === 0 ? 0 : '> 0'}, got ${String(ms)}`);
  }
}
