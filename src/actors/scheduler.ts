import { RingBuffer } from './ring-buffer.js';

const resolved = Promise.resolve();

/** What the scheduler needs from an actor. @internal */
export interface Runnable {
  /** True while the actor sits in the run queue (or is being run). */
  scheduled: boolean;
  /** Handles up to `budget` messages; returns how many items it processed (at least 1 for bookkeeping). */
  run(budget: number): number;
  /** True when the actor has work it can do now. */
  runnable(): boolean;
}

export interface SchedulerOptions {
  /** Messages one actor handles before the next runnable actor gets its turn. Default 64. */
  readonly throughput?: number;
  /** Milliseconds of continuous work after which the scheduler yields to timers and I/O. Default 4. */
  readonly sliceMs?: number;
}

export const schedulerDefaults = { throughput: 64, sliceMs: 4 } as const;

/**
 * One run queue for the whole system. Work is drained in a microtask as soon as it appears (low
 * latency), but after `sliceMs` of continuous work (counted across microtask drains too, since
 * promise chains can keep the microtask queue busy forever) the scheduler continues in a
 * `setImmediate` instead, so timers, I/O and other tasks get the event loop: a flooded actor
 * cannot starve them. JavaScript cannot pre-empt a handler, so one slow handler still blocks.
 * @internal
 */
export class Scheduler {
  private readonly queue = new RingBuffer<Runnable>(1024);
  /** A drain is scheduled (as a microtask or an immediate) or running. */
  private pending = false;
  /** When the current event-loop turn's work began; 0 when no turn is open. */
  private turnStart = 0;
  /** Items run since the clock was last read in this turn (carried across microtask drains). */
  private sinceCheck = 0;
  private readonly throughput: number;
  private readonly sliceMs: number;
  private readonly drainFn = (): void => this.drain();
  private readonly endTurn = (): void => {
    this.turnStart = 0;
  };

  constructor(
    options: SchedulerOptions = {},
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.throughput = options.throughput ?? schedulerDefaults.throughput;
    this.sliceMs = options.sliceMs ?? schedulerDefaults.sliceMs;
  }

  enqueue(actor: Runnable): void {
    actor.scheduled = true;
    this.queue.push(actor);
    if (!this.pending) {
      this.pending = true;
      // A resolved promise's `then` is a native microtask; Node's queueMicrotask wraps each
      // callback for async hooks and costs almost three times as much.
      // While a drain is deferred to setImmediate (slice used up), `pending` stays true, so
      // new work waits for it instead of sneaking back in as a microtask.
      void resolved.then(this.drainFn);
    }
  }

  /** True when no actor is waiting to run. */
  get idle(): boolean {
    return !this.pending && this.queue.length === 0;
  }

  private drain(): void {
    const q = this.queue;
    const budget = this.throughput;
    if (this.turnStart === 0) {
      this.turnStart = performance.now();
      setImmediate(this.endTurn);
    }
    // The clock is read once per `budget` items, counted across drains: many tiny microtask
    // drains in a row (a chain of asks) add up to a slice just like one long drain does.
    let sinceCheck = this.sinceCheck;
    while (q.length > 0) {
      const actor = q.shift() as Runnable;
      try {
        sinceCheck += actor.run(budget);
      } catch (err) {
        // A bug in the runtime, not in a handler (those are caught in the actor): it must not
        // leave the run queue stalled with `pending` set, nor reject out of a microtask.
        sinceCheck++;
        try {
          this.onError(err);
        } catch {
          // A logger that throws: nothing better to report it to.
        }
      }
      if (actor.runnable()) q.push(actor);
      else actor.scheduled = false;
      if (sinceCheck >= budget) {
        sinceCheck = 0;
        if (performance.now() - this.turnStart >= this.sliceMs) {
          this.sinceCheck = 0;
          setImmediate(this.drainFn);
          return;
        }
      }
    }
    this.sinceCheck = sinceCheck;
    this.pending = false;
  }
}
