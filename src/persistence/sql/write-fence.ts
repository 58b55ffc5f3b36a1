/**
 * An optional check that every write of a fenced persistence id runs in the write's
 * own statement (so in its transaction): the cluster's "this node still owns the entity's shard
 * at this epoch" (src/cluster). Unset, writes are built and run exactly as without it.
 *
 * A write is fenced by a token, `[key, epoch]` (a shard and its epoch), taken when its statement
 * is built. `condition` is SQL that is true iff the write may go ahead; it should lock what it
 * reads `FOR SHARE`, so that a change of owner waits for a write in flight and a write after it
 * sees the new row (never a stale snapshot).
 */
export interface WriteFence {
  /**
   * The token `persistenceId` is written under, or null when it is not fenced. Throws (a typed
   * error) when this process must not write it at all: the write then fails before any SQL.
   */
  token(persistenceId: string): readonly [key: number, epoch: number] | null;
  /** A SQL boolean over two SQL expressions, the token's key (int8) and epoch (int8). */
  condition(key: string, epoch: string): string;
  /** The error of a write whose condition was false (nothing was written). */
  refused(persistenceId: string, key: number, epoch: number): Error;
}
