/**
 * Growable columns of numbers on typed arrays: their memory lies outside the JavaScript heap, so
 * millions of stored values cost the garbage collector nothing to trace.
 * @internal
 */
export class Float64Column {
  private data = new Float64Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }

  get(i: number): number {
    return this.data[i] as number;
  }
}

/** @internal */
export class Int32Column {
  private data: Int32Array;
  length = 0;

  constructor(initialCapacity = 1024) {
    this.data = new Int32Array(initialCapacity);
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }

  get(i: number): number {
    return this.data[i] as number;
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
