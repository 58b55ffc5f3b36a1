import type { PersistentEvent } from './journal.js';
import type { Snapshot } from './snapshot-store.js';

/** What recovering one persistence id needs: its latest snapshot and the events after it. */
export interface RecoveryData {
  /** The latest snapshot, if any. */
  readonly snapshot: Snapshot | undefined;
  /** Events after the snapshot (or from the first), in sequence order; at most `maxEvents`. */
  readonly events: PersistentEvent[];
  /** False when more events follow than were loaded: replay the rest from the last one's sequence number + 1. */
  readonly complete: boolean;
}

export interface RecoveryOptions {
  /** Most events to load after the snapshot. Default 1000. */
  readonly maxEvents?: number;
}

/**
 * Loads what an entity needs to come back: the latest snapshot and the events after it, in one
 * call. On PostgreSQL and PGlite, concurrent loads are coalesced into one statement per batch
 * (group reads, the mirror of group commit): activating many entities at once costs one round
 * trip per batch instead of two per entity, and a lone load goes out at once.
 */
export interface RecoveryReader {
  load(persistenceId: string, options?: RecoveryOptions): Promise<RecoveryData>;
}

export const RECOVERY_DEFAULTS = Object.freeze({
  maxEvents: 1000,
  /** Persistence ids per statement. */
  maxIdsPerBatch: 256,
});
