import type { Journal } from '../journal.js';
import { RECOVERY_DEFAULTS, type RecoveryData, type RecoveryOptions, type RecoveryReader } from '../recovery.js';
import type { SnapshotStore } from '../snapshot-store.js';
import { checkPersistenceId, checkPositiveInt } from '../validation.js';

/** Recovery reads on the in-memory store: the snapshot store and the journal, one after the other. @internal */
export class MemoryRecoveryReader implements RecoveryReader {
  constructor(
    private readonly journal: Journal,
    private readonly snapshots: SnapshotStore,
  ) {}

  async load(persistenceId: string, options?: RecoveryOptions): Promise<RecoveryData> {
    checkPersistenceId(persistenceId);
    const maxEvents = checkPositiveInt(options?.maxEvents ?? RECOVERY_DEFAULTS.maxEvents, 'options.maxEvents');
    const snapshot = await this.snapshots.loadLatest(persistenceId);
    const events = await this.journal.read(persistenceId, { fromSequenceNr: (snapshot?.sequenceNr ?? 0) + 1, max: maxEvents + 1 });
    const complete = events.length <= maxEvents;
    if (!complete) events.length = maxEvents;
    return { snapshot, events, complete };
  }
}
