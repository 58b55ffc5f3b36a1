/**
 * What this node believes about the shards it holds, judged by its own monotonic clock (times
 * are passed in, so it is tested without one). A lease is granted or renewed by the database
 * for `ttl` from the database's now; the request left this node at `sentAt`, before that now,
 * so `sentAt + ttl` is before the lease can expire in the database. The node stops writing
 * `guard` earlier still (and stops the shard's entities), so that a node paused or cut off
 * stops before anyone else may take over.
 */
export interface HeldShard {
  readonly shard: number;
  readonly epoch: number;
  /** Monotonic ms after which this node must not write the shard. */
  validUntil: number;
  /** Being handed off: its entities are stopping, nothing new runs here. */
  leaving: boolean;
}

export class ShardLeases {
  readonly #held = new Map<number, HeldShard>();

  constructor(
    readonly ttlMs: number,
    readonly guardMs: number,
  ) {}

  /** The shard was taken (at `epoch`) by a request sent at `sentAt`. */
  granted(shard: number, epoch: number, sentAt: number): void {
    this.#held.set(shard, { shard, epoch, validUntil: sentAt + this.ttlMs - this.guardMs, leaving: false });
  }

  /** The lease was renewed by a request sent at `sentAt`. */
  renewed(shard: number, epoch: number, sentAt: number): void {
    const h = this.#held.get(shard);
    if (h !== undefined && h.epoch === epoch) h.validUntil = Math.max(h.validUntil, sentAt + this.ttlMs - this.guardMs);
  }

  /** The epoch this node may write `shard` under at `now`, or null. */
  writable(shard: number, now: number): number | null {
    const h = this.#held.get(shard);
    if (h === undefined || h.leaving || now >= h.validUntil) return null;
    return h.epoch;
  }

  /** Held, whether or not still writable (for routing: a leaving shard waits for its next owner). */
  get(shard: number): HeldShard | undefined {
    return this.#held.get(shard);
  }

  /** Forgets `shard` (lost, released or expired). */
  drop(shard: number): HeldShard | undefined {
    const h = this.#held.get(shard);
    this.#held.delete(shard);
    return h;
  }

  /** The held shards whose local validity is over at `now` (to be stopped and dropped). */
  expired(now: number): HeldShard[] {
    const out: HeldShard[] = [];
    for (const h of this.#held.values()) if (now >= h.validUntil) out.push(h);
    return out;
  }

  held(): HeldShard[] {
    return [...this.#held.values()];
  }

  get size(): number {
    return this.#held.size;
  }
}
