/**
 * Durable timers, as the stores keep them: one row per (persistence id, timer name), written in
 * the same transaction as the command that scheduled or cancelled it (see `Journal.append`'s
 * `timers` option and `DurableStateStore.upsert`'s), and claimed by one runtime at a time with a
 * lease when it falls due. The entity runtime's timer service drives it; docs/timers.md says what
 * is guaranteed.
 *
 * Times here are wall-clock epoch milliseconds (they must mean the same after a restart), read
 * from the runtime's clock, not the database's.
 */

/** A change a command makes to its entity's timers. */
export type TimerChange =
  | {
      readonly kind: 'schedule';
      readonly name: string;
      /** The occurrence's time, epoch ms. */
      readonly dueAt: number;
      /** 0: once; otherwise the period, ms. */
      readonly everyMs: number;
      readonly command: string;
      readonly payload: unknown;
      /** Unique per schedule call: part of every delivery id. */
      readonly scheduleId: string;
    }
  | { readonly kind: 'cancel'; readonly name: string }
  /**
   * The delivery with this claim was handled: a one-shot timer goes, a periodic one moves to
   * `nextDueAt`. Only if the timer still has that claim (it was not rescheduled meanwhile).
   */
  | { readonly kind: 'complete'; readonly name: string; readonly claim: string; readonly nextDueAt: number | null };

/** The timer changes of one entity's write. */
export interface TimerWrites {
  readonly entityType: string;
  readonly entityId: string;
  readonly changes: readonly TimerChange[];
}

/** A due timer, claimed by one runtime until `leaseUntil`. */
export interface ClaimedTimer {
  readonly persistenceId: string;
  readonly name: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly scheduleId: string;
  /** The occurrence being delivered (its nominal time, epoch ms; a retry keeps it). */
  readonly dueAt: number;
  readonly everyMs: number;
  /** Failed deliveries of this occurrence so far. */
  readonly attempts: number;
  readonly command: string;
  readonly payload: unknown;
  /** The claim token; completing or retrying needs it. */
  readonly claim: string;
}

/** A stored timer, for inspection. */
export interface TimerInfo {
  readonly persistenceId: string;
  readonly name: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly scheduleId: string;
  readonly dueAt: number;
  readonly everyMs: number;
  /** When it may next be claimed: its due time, a retry's, or the end of a claim's lease. */
  readonly fireAt: number;
  readonly attempts: number;
  readonly command: string;
  readonly payload: unknown;
  readonly claimed: boolean;
  readonly lastError: string | null;
}

/** An occurrence that failed `maxAttempts` times, kept in the dead-letter table. */
export interface DeadTimer {
  readonly persistenceId: string;
  readonly name: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly scheduleId: string;
  readonly dueAt: number;
  readonly command: string;
  readonly payload: unknown;
  readonly attempts: number;
  readonly lastError: string;
  /** When it was given up, epoch ms. */
  readonly deadAt: number;
}

export interface ClaimQuery {
  /** Claim timers with `fireAt <= now`. */
  readonly now: number;
  /** The claim holds until `now + leaseMs`; then anyone may claim the timer again. */
  readonly leaseMs: number;
  readonly claim: string;
  readonly max: number;
  /** Only timers of these entity types (the ones this runtime serves). */
  readonly entityTypes: readonly string[];
  /** In a cluster: only timers of entities in these shards (the ones this node owns). Absent: any. */
  readonly shards?: ShardFilter;
}

/**
 * The shards whose timers a cluster node may claim: those of the entities `type|id` with
 * `keyHash(type|id) % count` in `owned` (the cluster's `shardOf`).
 */
export interface ShardFilter {
  readonly count: number;
  readonly owned: readonly number[];
}

/** A claimed timer handed back with its claim: what to do with it. */
export interface TimerKey {
  readonly persistenceId: string;
  readonly name: string;
  readonly claim: string;
}

export interface TimerStore {
  /** Writes `writes` for `persistenceId` on their own, for a command that wrote nothing else; one transaction. */
  write(persistenceId: string, writes: TimerWrites): Promise<void>;
  /** Claims up to `max` due timers, earliest first, skipping those another claimer holds. */
  claimDue(query: ClaimQuery): Promise<ClaimedTimer[]>;
  /**
   * A failed delivery: counts the attempt, keeps `lastError` and makes the timer due again at
   * `retryAt`, when anyone may claim it. Only if the timer still has `key.claim`, which it keeps
   * until then: a delivery that timed out but whose command commits late still completes it.
   */
  retry(key: TimerKey, retryAt: number, error: string): Promise<void>;
  /**
   * The occurrence failed for the last time: it goes to the dead-letter table, and the timer
   * goes (one-shot) or moves to `nextDueAt` (periodic), in one transaction. Only if the timer
   * still has `timer.claim`.
   */
  deadLetter(timer: ClaimedTimer, error: string, now: number, nextDueAt: number | null): Promise<void>;
  /** Gives claims back unfired (the runtime is stopping): due again at `fireAt`. */
  release(keys: readonly TimerKey[], fireAt: number): Promise<void>;
  /** The earliest `fireAt` among these types' timers (in these shards, if given), or undefined if they have none. */
  nextFireAt(entityTypes: readonly string[], shards?: ShardFilter): Promise<number | undefined>;
  /** The timers of one persistence id, or all, by name. */
  list(persistenceId?: string): Promise<TimerInfo[]>;
  /** The dead letters, oldest first. */
  deadLetters(): Promise<DeadTimer[]>;
}
