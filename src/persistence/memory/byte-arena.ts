/**
 * Bytes appended one value after another into chunks of one growing region: `add` copies the
 * value in and returns its offset, `copy` hands back a fresh copy. Values never move once added,
 * so an offset stays valid. Chunks are fixed-size (a value larger than a chunk gets a chunk of
 * its own), so adding never copies what is already stored.
 * @internal
 */
export class ByteArena {
  private readonly chunks: Uint8Array[] = [];
  /** Offset where each chunk starts. */
  private readonly starts: number[] = [];
  private current: Uint8Array = new Uint8Array(0);
  private used = 0;
  private size = 0;

  constructor(private readonly chunkSize = 1 << 20) {}

  /** Copies `bytes` in; returns the offset to read them back with. */
  add(bytes: Uint8Array): number {
    const n = bytes.byteLength;
    if (this.used + n > this.current.byteLength) this.newChunk(n);
    const offset = this.size;
    this.current.set(bytes, this.used);
    this.used += n;
    this.size += n;
    return offset;
  }

  /** A new `Uint8Array` holding the `length` bytes stored at `offset`. */
  copy(offset: number, length: number): Uint8Array {
    if (length === 0) return new Uint8Array(0); // an empty value may sit before any chunk exists
    const c = this.chunkAt(offset);
    const start = offset - (this.starts[c] as number);
    return (this.chunks[c] as Uint8Array).slice(start, start + length);
  }

  private newChunk(atLeast: number): void {
    // The old chunk's unused tail is skipped: offsets keep counting from the new chunk's start.
    this.size += this.current.byteLength - this.used;
    this.current = new Uint8Array(Math.max(this.chunkSize, atLeast));
    this.chunks.push(this.current);
    this.starts.push(this.size);
    this.used = 0;
  }

  private chunkAt(offset: number): number {
    // Binary search over chunk starts (few chunks, but reads of old events must not be linear).
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
