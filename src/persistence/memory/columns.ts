/**
 * Growable columns of numbers on typed arrays: their memory lies outside the JavaScript heap, so
 * millions of stored values cost the garbage collector nothing to trace.
 *
 * A column is a list of fixed-size chunks (the first one grows by doubling up to that size, so a
 * small column stays small): growing never copies what is stored, nor leaves the old array to be
 * freed while a new one twice its size is zero-filled and touched again. For a journal that only
 * grows, that copy and the page faults of fresh memory were most of an append's cost.
 * @internal
 */
const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

/** The first chunk's size: a power of two, at least 1 and at most a chunk. */
function firstCapacity(initialCapacity: number): number {
  let n = 1;
  while (n < initialCapacity && n < CHUNK) n *= 2;
  return n;
}

/** @internal */
export class Float64Column {
  private readonly chunks: Float64Array[];
  private current: Float64Array;
  /** Values in `current`. */
  private used = 0;
  length = 0;

  constructor(initialCapacity = 1024) {
    this.current = new Float64Array(firstCapacity(initialCapacity));
    this.chunks = [this.current];
  }

  push(value: number): void {
    if (this.used === this.current.length) this.grow();
    this.current[this.used++] = value;
    this.length++;
  }

  get(i: number): number {
    return (this.chunks[i >>> CHUNK_BITS] as Float64Array)[i & MASK] as number;
  }

  private grow(): void {
    if (this.current.length < CHUNK) {
      // Still the first chunk, smaller than a chunk: doubled in place of itself.
      const next = new Float64Array(this.current.length * 2);
      next.set(this.current);
      this.chunks[0] = this.current = next;
    } else {
      this.current = new Float64Array(CHUNK);
      this.chunks.push(this.current);
      this.used = 0;
    }
  }
}

/** @internal */
export class Int32Column {
  private readonly chunks: Int32Array[];
  private current: Int32Array;
  /** Values in `current`. */
  private used = 0;
  length = 0;

  constructor(initialCapacity = 1024) {
    this.current = new Int32Array(firstCapacity(initialCapacity));
    this.chunks = [this.current];
  }

  push(value: number): void {
    if (this.used === this.current.length) this.grow();
    this.current[this.used++] = value;
    this.length++;
  }

  get(i: number): number {
    return (this.chunks[i >>> CHUNK_BITS] as Int32Array)[i & MASK] as number;
  }

  private grow(): void {
    if (this.current.length < CHUNK) {
      const next = new Int32Array(this.current.length * 2);
      next.set(this.current);
      this.chunks[0] = this.current = next;
    } else {
      this.current = new Int32Array(CHUNK);
      this.chunks.push(this.current);
      this.used = 0;
    }
  }
}

/** Strings stored once each, referred to by index (persistence ids and event types repeat). @internal */
export class StringTable {
  private readonly byValue = new Map<string, number>();
  private readonly values: string[] = [];

  indexOf(value: string): number {
    let i = this.byValue.get(value);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(value);
      this.byValue.set(value, i);
    }
    return i;
  }

  at(i: number): string {
    return this.values[i] as string;
  }
}
