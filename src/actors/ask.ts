import { type Clock, keepAlive, type TimerHandle } from './clock.js';
import { ASK, Envelope } from './envelope.js';
import { AskAbortedError, AskTimeoutError } from './errors.js';
import type { ReplyTo } from './ref.js';

/** What an ask needs to know about its target. @internal */
export interface AskTarget {
  readonly id: number;
  readonly name: string | undefined;
  /** Called when an ask the target still owes a reply settles, so the target can forget it. */
  forgetAsk(ask: Ask): void;
}

const never: Promise<unknown> = new Promise(() => {});

// The promise executor is a module-level function that parks the resolvers here, so an ask
// allocates no closure for them.
let parkedResolve: ((v: unknown) => void) | undefined;
let parkedReject: ((e: unknown) => void) | undefined;
function park(resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
  parkedResolve = resolve;
  parkedReject = reject;
}

/**
 * One pending ask: the mailbox item, the reply handle, and a node in its timeout bucket's list.
 * @internal
 */
export class Ask extends Envelope implements ReplyTo {
  readonly kind = ASK;
  /** The asker's promise; a placeholder that never settles when nobody waits (`withPromise` false). */
  readonly promise: Promise<unknown>;
  private resolve: ((v: unknown) => void) | null;
  private rejectFn: ((e: unknown) => void) | null;
  settled = false;
  /** True while the target holds this ask after its handler returned without replying. */
  owed = false;
  // Timeout bucket links.
  deadline = 0;
  bucket: TimeoutBucket | null = null;
  prev: Ask | null = null;
  next: Ask | null = null;
  private signal: AbortSignal | null = null;
  private onAbort: (() => void) | null = null;

  constructor(
    readonly message: unknown,
    readonly target: AskTarget,
    withPromise = true,
  ) {
    super();
    if (withPromise) {
      this.promise = new Promise(park);
      this.resolve = parkedResolve as (v: unknown) => void;
      this.rejectFn = parkedReject as (e: unknown) => void;
    } else {
      this.promise = never;
      this.resolve = this.rejectFn = null;
    }
  }

  reply(value: unknown): boolean {
    if (this.settled) return false;
    this.finish();
    if (this.resolve !== null) this.resolve(value);
    return true;
  }

  fail(error: Error): boolean {
    return this.reject(error);
  }

  reject(error: unknown): boolean {
    if (this.settled) return false;
    this.finish();
    if (this.rejectFn !== null) this.rejectFn(error);
    return true;
  }

  /** @internal */
  watchSignal(signal: AbortSignal): void {
    if (signal.aborted) {
      this.reject(new AskAbortedError(this.target, signal.reason));
      return;
    }
    this.signal = signal;
    this.onAbort = () => this.reject(new AskAbortedError(this.target, signal.reason));
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  private finish(): void {
    this.settled = true;
    if (this.bucket !== null) this.bucket.remove(this);
    if (this.signal !== null) {
      this.signal.removeEventListener('abort', this.onAbort as () => void);
      this.signal = null;
      this.onAbort = null;
    }
    if (this.owed) {
      this.owed = false;
      this.target.forgetAsk(this);
    }
  }
}

/**
 * All pending asks with the same timeout, in deadline order. Because the clock is monotonic and
 * the timeout is the same, appending keeps the list sorted, so one clock timer per bucket (armed
 * for the head) is enough: no timer is created per ask, and settling an ask is an O(1) unlink.
 * The timer may outlive the asks it was armed for (it then finds nothing due and re-arms only if
 * asks remain); it keeps the process alive only while the bucket holds pending asks, as an
 * awaited `gen_server:call` would, without making a finished program wait for it.
 * @internal
 */
export class TimeoutBucket {
  private head: Ask | null = null;
  private tail: Ask | null = null;
  private timer: TimerHandle | null = null;
  private readonly fire = (): void => this.expire();

  constructor(
    readonly timeout: number,
    private readonly clock: Clock,
  ) {}

  add(ask: Ask, now: number = this.clock.now()): void {
    ask.deadline = now + this.timeout;
    ask.bucket = this;
    ask.prev = this.tail;
    if (this.tail === null) {
      this.head = ask;
      if (this.timer === null) this.timer = this.clock.setTimeout(this.fire, this.timeout);
      else keepAlive(this.timer, true);
    } else {
      this.tail.next = ask;
    }
    this.tail = ask;
  }

  remove(ask: Ask): void {
    const { prev, next } = ask;
    if (prev === null) this.head = next;
    else prev.next = next;
    if (next === null) this.tail = prev;
    else next.prev = prev;
    ask.prev = ask.next = null;
    ask.bucket = null;
    if (this.head === null && this.timer !== null) keepAlive(this.timer, false);
  }

  /** Cancels the bucket's timer (when the system stops). */
  dispose(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private expire(): void {
    this.timer = null;
    const now = this.clock.now();
    let ask = this.head;
    while (ask !== null && ask.deadline <= now) {
      ask.reject(new AskTimeoutError(ask.target, this.timeout)); // unlinks it
      ask = this.head;
    }
    if (ask !== null) this.timer = this.clock.setTimeout(this.fire, Math.max(1, ask.deadline - now));
  }
}

/** One bucket per distinct timeout value. @internal */
export class AskTimeouts {
  private readonly buckets = new Map<number, TimeoutBucket>();
  private defaultBucket: TimeoutBucket | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly defaultTimeout: number,
  ) {}

  /** Starts `ask`'s timeout; `now` saves a clock read when the caller has just read it. */
  add(ask: Ask, timeout: number, now?: number): void {
    if (timeout === this.defaultTimeout) {
      (this.defaultBucket ??= this.bucketFor(timeout)).add(ask, now);
    } else if (timeout !== Infinity) {
      this.bucketFor(timeout).add(ask, now);
    }
  }

  dispose(): void {
    for (const b of this.buckets.values()) b.dispose();
  }

  private bucketFor(timeout: number): TimeoutBucket {
    let b = this.buckets.get(timeout);
    if (b === undefined) {
      b = new TimeoutBucket(timeout, this.clock);
      this.buckets.set(timeout, b);
    }
    return b;
  }
}
