/** Buffers beyond this many slots go back to a small array when they drain empty. */
const SHRINK_ABOVE = 4096;

/**
 * A growable FIFO on a power-of-two array. Mailboxes, the scheduler's run queue and stashes
 * all sit on it: push and shift are O(1) with no allocation except when the buffer doubles,
 * and `unshift` lets a stash put messages back in front.
 * @internal
 */
export class RingBuffer<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private mask: number;
  length = 0;

  constructor(initialCapacity = 8) {
    let cap = 2;
    while (cap < initialCapacity) cap <<= 1;
    this.buf = new Array<T | undefined>(cap);
    this.mask = cap - 1;
  }

  push(item: T): void {
    if (this.length > this.mask) this.grow();
    this.buf[(this.head + this.length) & this.mask] = item;
    this.length++;
  }

  /** Puts an item in front of all others. */
  unshift(item: T): void {
    if (this.length > this.mask) this.grow();
    this.head = (this.head - 1) & this.mask;
    this.buf[this.head] = item;
    this.length++;
  }

  /** Removes and returns the oldest item; `undefined` when empty. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const h = this.head;
    const item = this.buf[h];
    this.buf[h] = undefined; // let the GC have it
    this.head = (h + 1) & this.mask;
    if (--this.length === 0 && this.mask >= SHRINK_ABOVE) this.shrink();
    return item;
  }

  peek(): T | undefined {
    return this.length === 0 ? undefined : this.buf[this.head];
  }

  /** The item `i` places from the front (0 is the oldest), without removing it. */
  at(i: number): T | undefined {
    return i < 0 || i >= this.length ? undefined : this.buf[(this.head + i) & this.mask];
  }

  /** Removes everything, handing each item to `fn` oldest first. */
  drain(fn: (item: T) => void): void {
    while (this.length > 0) fn(this.shift() as T);
  }

  /** Removes every item for which `keep` is false, preserving order. */
  filter(keep: (item: T) => boolean): void {
    const n = this.length;
    for (let i = 0; i < n; i++) {
      const item = this.shift() as T;
      if (keep(item)) this.push(item);
    }
  }

  /** A burst made the buffer large; once it is empty again, give the memory back. */
  private shrink(): void {
    this.buf = new Array<T | undefined>(16);
    this.mask = 15;
    this.head = 0;
  }

  private grow(): void {
    const old = this.buf;
    const cap = old.length;
    const next = new Array<T | undefined>(cap * 2);
    for (let i = 0; i < this.length; i++) next[i] = old[(this.head + i) & this.mask];
    this.buf = next;
    this.head = 0;
    this.mask = cap * 2 - 1;
  }
}
