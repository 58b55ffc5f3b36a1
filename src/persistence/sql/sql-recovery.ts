import type { Lifecycle } from '../lifecycle.js';
import type { PersistentEvent } from '../journal.js';
import { RECOVERY_DEFAULTS, type RecoveryData, type RecoveryOptions, type RecoveryReader } from '../recovery.js';
import type { Serializer } from '../serializer.js';
import { decodeValue } from '../serializer.js';
import type { Snapshot } from '../snapshot-store.js';
import { checkPersistenceId, checkPositiveInt } from '../validation.js';
import type { SqlDriver } from './driver.js';
import type { Tables } from './tables.js';

interface PendingLoad {
  readonly persistenceId: string;
  readonly maxEvents: number;
  readonly resolve: (data: RecoveryData) => void;
  readonly reject: (err: unknown) => void;
}

const SNAPSHOT_ROW = 0;

/**
 * One statement for a whole batch of ids: each id's latest snapshot, and up to `$2` events after
 * it (one more than asked, to know whether there are more). Rows are tagged: kind 0 a snapshot,
 * kind 1 an event. @internal
 */
export function recoveryStatement(t: Tables): string {
  return `WITH ids AS (SELECT DISTINCT unnest($1::text[]) AS pid),
snap AS (
  SELECT DISTINCT ON (s.persistence_id) s.persistence_id, s.sequence_nr, s.created_at, s.snapshot_type, s.payload, s.metadata
  FROM ${t.snapshots} s JOIN ids ON s.persistence_id = ids.pid
  ORDER BY s.persistence_id, s.sequence_nr DESC
)
SELECT 0 AS kind, persistence_id, sequence_nr, 0::bigint AS ordering, snapshot_type, payload, metadata, created_at FROM snap
UNION ALL
SELECT 1, ids.pid, e.sequence_nr, e.ordering, e.event_type, e.payload, e.metadata, e.written_at
FROM ids LEFT JOIN snap ON snap.persistence_id = ids.pid
CROSS JOIN LATERAL (
  SELECT j.sequence_nr, j.ordering, j.event_type, j.payload, j.metadata, j.written_at FROM ${t.journal} j
  WHERE j.persistence_id = ids.pid AND j.sequence_nr > COALESCE(snap.sequence_nr, 0)
  ORDER BY j.sequence_nr LIMIT $2
) e`;
}

/**
 * Group reads for recovery on PostgreSQL and PGlite. Loads are queued; a flush is scheduled in a
 * microtask (so loads issued in the same turn share a statement, and a lone load waits for
 * nothing), up to `maxInFlight` statements run at once, and loads that arrive meanwhile form the
 * next batches. A failed statement fails its batch; a value that cannot be decoded fails only the
 * load it belongs to.
 * @internal
 */
export class SqlRecoveryReader implements RecoveryReader {
  readonly #driver: SqlDriver;
  readonly #serializer: Serializer;
  readonly #lifecycle: Lifecycle;
  readonly #sql: string;
  readonly #name: string;
  readonly #maxInFlight: number;
  #queue: PendingLoad[] = [];
  #inFlight = 0;
  #scheduled = false;
  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#run();
  };

  constructor(driver: SqlDriver, tables: Tables, serializer: Serializer, lifecycle: Lifecycle, maxInFlight: number) {
    this.#driver = driver;
    this.#serializer = serializer;
    this.#lifecycle = lifecycle;
    this.#sql = recoveryStatement(tables);
    this.#name = `bs_${tables.tag}_recover`;
    this.#maxInFlight = maxInFlight;
  }

  load(persistenceId: string, options?: RecoveryOptions): Promise<RecoveryData> {
    let maxEvents: number;
    try {
      this.#lifecycle.check();
      checkPersistenceId(persistenceId);
      maxEvents = checkPositiveInt(options?.maxEvents ?? RECOVERY_DEFAULTS.maxEvents, 'options.maxEvents');
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<RecoveryData>((resolve, reject) => {
      this.#queue.push({ persistenceId, maxEvents, resolve, reject });
      if (!this.#scheduled && this.#inFlight < this.#maxInFlight) {
        this.#scheduled = true;
        queueMicrotask(this.#flush);
      }
    });
  }

  #run(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.#maxInFlight) {
      const batch = this.#queue.length <= RECOVERY_DEFAULTS.maxIdsPerBatch ? this.#queue : this.#queue.slice(0, RECOVERY_DEFAULTS.maxIdsPerBatch);
      this.#queue = batch === this.#queue ? [] : this.#queue.slice(RECOVERY_DEFAULTS.maxIdsPerBatch);
      this.#inFlight++;
      void this.#load(batch).finally(() => {
        this.#inFlight--;
        if (this.#queue.length > 0) this.#run();
      });
    }
  }

  async #load(batch: PendingLoad[]): Promise<void> {
    const ids: string[] = [];
    let limit = 0;
    for (const p of batch) {
      ids.push(p.persistenceId);
      if (p.maxEvents > limit) limit = p.maxEvents;
    }
    let rows: unknown[][];
    try {
      rows = (await this.#driver.query(this.#sql, [ids, limit + 1], this.#name)).rows;
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    // Group the rows by id: the snapshot, then the events (in sequence order per id).
    const byId = new Map<string, { snapshot: unknown[] | undefined; events: unknown[][] }>();
    for (const row of rows) {
      const pid = row[1] as string;
      let entry = byId.get(pid);
      if (entry === undefined) byId.set(pid, (entry = { snapshot: undefined, events: [] }));
      if (Number(row[0]) === SNAPSHOT_ROW) entry.snapshot = row;
      else entry.events.push(row);
    }
    for (const p of batch) {
      const entry = byId.get(p.persistenceId);
      try {
        p.resolve(this.#decode(p, entry));
      } catch (err) {
        p.reject(err);
      }
    }
  }

  #decode(p: PendingLoad, entry: { snapshot: unknown[] | undefined; events: unknown[][] } | undefined): RecoveryData {
    if (entry === undefined) return { snapshot: undefined, events: [], complete: true };
    const pid = p.persistenceId;
    let snapshot: Snapshot | undefined;
    const s = entry.snapshot;
    if (s !== undefined) {
      const sequenceNr = Number(s[2]);
      const type = s[4] as string;
      const what = `snapshot ${pid}#${sequenceNr}`;
      snapshot = {
        persistenceId: pid,
        sequenceNr,
        timestamp: Number(s[7]),
        type,
        snapshot: decodeValue(this.#serializer, s[5] as Uint8Array, type, what),
        metadata: s[6] === null ? undefined : (decodeValue(this.#serializer, s[6] as Uint8Array, '', `metadata of ${what}`) as Record<string, unknown>),
      };
    }
    const rows = entry.events;
    const n = Math.min(rows.length, p.maxEvents);
    // Rows of one id arrive in the lateral subquery's order; sort defensively, it is cheap.
    rows.sort((a, b) => Number(a[2]) - Number(b[2]));
    const events = new Array<PersistentEvent>(n);
    for (let i = 0; i < n; i++) {
      const r = rows[i] as unknown[];
      const sequenceNr = Number(r[2]);
      const type = r[4] as string;
      const what = `event ${pid}#${sequenceNr}`;
      events[i] = {
        persistenceId: pid,
        sequenceNr,
        ordering: Number(r[3]),
        type,
        payload: decodeValue(this.#serializer, r[5] as Uint8Array, type, what),
        metadata: r[6] === null ? undefined : (decodeValue(this.#serializer, r[6] as Uint8Array, '', `metadata of ${what}`) as Record<string, unknown>),
        timestamp: Number(r[7]),
      };
    }
    return { snapshot, events, complete: rows.length <= p.maxEvents };
  }
}
