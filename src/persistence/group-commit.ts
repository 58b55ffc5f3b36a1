import type { AppendResult, JournalStats } from './journal.js';
import type { EncodedEvents } from './encoded-events.js';
import { JournalConflictError } from './errors.js';
import type { EncodedTimerWrites } from './encoded-timers.js';

/**
 * Group commit: appends that arrive while the database is busy are written together, one
 * statement and one transaction per batch.
 *
 * - A lone writer is not delayed: when a batch slot is free, the queue is flushed in a microtask
 *   (so appends issued in the same tick share a batch), never after a timer.
 * - While `maxBatchesInFlight` batches are running, new appends wait in the queue; when a batch
 *   finishes, the next one takes everything waiting, up to the size bounds. When several slots
 *   are free at once, what is waiting is spread evenly over them: two half batches on two
 *   connections finish sooner than one full batch on one.
 * - At most one append per persistence id is in flight at a time, so the compare-and-set on an
 *   id never races with this process's own next append for it; later appends for a busy id
 *   stay queued, in order.
 */
export interface GroupCommitOptions {
  /** Most events in one batch; an append larger than this goes alone. */
  readonly maxBatchEvents: number;
  /** Most payload + metadata bytes in one batch; an append larger than this goes alone. */
  readonly maxBatchBytes: number;
  /** How many batches may run at once (each on its own connection). */
  readonly maxBatchesInFlight: number;
}

/** One queued append. */
export interface PendingAppend {
  readonly persistenceId: string;
  readonly expected: number;
  readonly events: EncodedEvents;
  /** Timer changes to write in the same transaction (durable timers), if any. */
  readonly timers: EncodedTimerWrites | undefined;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * What a batch runner reports: the commit timestamp, and the appends that failed
 * (by index in the batch) with their error; the others committed. Throwing fails them all.
 */
export interface BatchOutcome {
  readonly timestamp: number;
  readonly failed: ReadonlyMap<number, Error> | undefined;
}

export type BatchRunner = (batch: readonly PendingAppend[]) => Promise<BatchOutcome>;

/**
 * @internal Told about every batch once it has run (its appends, its events, how long the
 * runner took, in ms, and how many batches were running including it), for benchmarks and
 * diagnostics. Process-wide; when none is set, a batch costs one comparison more.
 */
export type BatchObserver = (appends: number, events: number, ms: number, inFlight: number) => void;

let observer: BatchObserver | undefined;

/** @internal Sets (or with undefined, removes) the process-wide batch observer. */
export function observeBatches(o: BatchObserver | undefined): void {
  observer = o;
}

/** @internal The queue and batching policy; the SQL lives in the runner. */
export class GroupCommitWriter {
  readonly #run: BatchRunner;
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  readonly #maxInFlight: number;
  #queue: PendingAppend[] = [];
  /** Events in `#queue`. */
  #queuedEvents = 0;
  /** Ids with an append in a running batch. */
  readonly #busy = new Set<string>();
  #inFlight = 0;
  #scheduled = false;
  #drained: (() => void)[] = [];
  #appends = 0;
  #events = 0;
  #conflicts = 0;
  #batches = 0;
  #largestBatch = 0;

  constructor(run: BatchRunner, options: GroupCommitOptions) {
    this.#run = run;
    this.#maxEvents = options.maxBatchEvents;
    this.#maxBytes = options.maxBatchBytes;
    this.#maxInFlight = options.maxBatchesInFlight;
  }

  submit(persistenceId: string, expected: number, events: EncodedEvents, timers?: EncodedTimerWrites): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.#queue.push({ persistenceId, expected, events, timers, resolve, reject });
      this.#queuedEvents += events.count;
      if (!this.#scheduled && this.#inFlight < this.#maxInFlight) {
        this.#scheduled = true;
        queueMicrotask(this.#flush);
      }
    });
  }

  /** Resolves once nothing is queued or running (used by close). */
  drain(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  stats(): JournalStats {
    return {
      appends: this.#appends,
      events: this.#events,
      conflicts: this.#conflicts,
      batches: this.#batches,
      largestBatch: this.#largestBatch,
    };
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const share = Math.ceil(this.#queuedEvents / (this.#maxInFlight - this.#inFlight));
      const batch = this.#take(Math.min(this.#maxEvents, share));
      if (batch.length === 0) break; // everything queued is for ids already in flight
      void this.#execute(batch);
    }
  };

  /** Takes the next batch off the queue, oldest first, within the bounds. */
  #take(maxEvents: number): PendingAppend[] {
    const queue = this.#queue;
    const batch: PendingAppend[] = [];
    let skipped: PendingAppend[] | undefined;
    let events = 0;
    let bytes = 0;
    let i = 0;
    for (; i < queue.length; i++) {
      const p = queue[i] as PendingAppend;
      if (this.#busy.has(p.persistenceId)) {
        (skipped ??= []).push(p);
        continue;
      }
      if (batch.length > 0 && (events + p.events.count > maxEvents || bytes + p.events.bytes > this.#maxBytes)) break;
      batch.push(p);
      this.#busy.add(p.persistenceId);
      events += p.events.count;
      bytes += p.events.bytes;
    }
    this.#queuedEvents -= events;
    if (skipped === undefined) this.#queue = i === queue.length ? [] : queue.slice(i);
    else this.#queue = i === queue.length ? skipped : skipped.concat(queue.slice(i));
    return batch;
  }

  async #execute(batch: PendingAppend[]): Promise<void> {
    this.#inFlight++;
    this.#batches++;
    if (batch.length > this.#largestBatch) this.#largestBatch = batch.length;
    let outcome: BatchOutcome | undefined;
    let error: unknown;
    const watching = observer;
    const started = watching === undefined ? 0 : performance.now();
    try {
      outcome = await this.#run(batch);
    } catch (err) {
      error = err;
    }
    if (watching !== undefined) {
      let events = 0;
      for (const p of batch) events += p.events.count;
      watching(batch.length, events, performance.now() - started, this.#inFlight);
    }
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as PendingAppend;
      this.#busy.delete(p.persistenceId);
      const failure = outcome === undefined ? error : outcome.failed?.get(i);
      if (failure !== undefined || outcome === undefined) {
        if (failure instanceof JournalConflictError) this.#conflicts++;
        p.reject(failure);
      } else {
        this.#appends++;
        this.#events += p.events.count;
        p.resolve({
          persistenceId: p.persistenceId,
          firstSequenceNr: p.expected + 1,
          highestSequenceNr: p.expected + p.events.count,
          timestamp: outcome.timestamp,
        });
      }
    }
    this.#inFlight--;
    if (this.#queue.length > 0) this.#flush();
    else if (this.#inFlight === 0 && this.#drained.length > 0) {
      const waiting = this.#drained;
      this.#drained = [];
      for (const resolve of waiting) resolve();
    }
  }
}
