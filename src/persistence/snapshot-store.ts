/**
 * The snapshot store: saved states of a persistence id at a sequence number, so recovery can
 * start from the latest snapshot instead of the first event. At most one snapshot per
 * (persistence id, sequence number): saving again at the same number replaces it.
 */

/** Which snapshots a load or delete considers; all bounds inclusive, all optional. */
export interface SnapshotCriteria {
  /** Default: no bound. */
  readonly maxSequenceNr?: number;
  /** Default 0. */
  readonly minSequenceNr?: number;
  /** Milliseconds since the epoch. Default: no bound. */
  readonly maxTimestamp?: number;
  /** Milliseconds since the epoch. Default 0. */
  readonly minTimestamp?: number;
}

export interface SaveSnapshotOptions {
  /** A type name stored beside the snapshot. Default `''`. */
  readonly type?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Milliseconds since the epoch. Default: now. */
  readonly timestamp?: number;
}

/** A stored snapshot. */
export interface Snapshot<S = unknown> {
  readonly persistenceId: string;
  readonly sequenceNr: number;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  readonly type: string;
  readonly snapshot: S;
  readonly metadata: Readonly<Record<string, unknown>> | undefined;
}

/** Where a saved snapshot sits. */
export interface SnapshotMetadata {
  readonly persistenceId: string;
  readonly sequenceNr: number;
  readonly timestamp: number;
}

export interface SnapshotStore {
  /** Saves `snapshot` as the state at `sequenceNr`, replacing one already saved there. */
  save(persistenceId: string, sequenceNr: number, snapshot: unknown, options?: SaveSnapshotOptions): Promise<SnapshotMetadata>;

  /** The snapshot with the highest sequence number matching `criteria`, or `undefined`. */
  loadLatest(persistenceId: string, criteria?: SnapshotCriteria): Promise<Snapshot | undefined>;

  /** Deletes the snapshots matching `criteria` (`{}` matches all); resolves to how many. */
  delete(persistenceId: string, criteria: SnapshotCriteria): Promise<number>;

  /** Deletes all but the `count` snapshots with the highest sequence numbers; resolves to how many. */
  keepLast(persistenceId: string, count: number): Promise<number>;
}
