import type { Clock, TimerHandle } from '../actors/clock.js';
import { systemClock } from '../actors/clock.js';
import type { Journal } from './journal.js';
import type { GlobalEvent, GlobalOffset } from './global-order.js';
import { parseOffset, START_OFFSET } from './global-order.js';
import { PersistenceArgumentError } from './errors.js';
import { checkPositiveInt } from './validation.js';

/** What `tailJournal` follows and how. */
export interface TailOptions {
  /** Start after this offset. Default `START_OFFSET`. */
  readonly afterOffset?: GlobalOffset;
  /** Only events with this tag. */
  readonly tag?: string;
  /** Only events whose persistence id starts with one of these. */
  readonly persistenceIdPrefixes?: readonly string[];
  /** Events per read. Default 500. */
  readonly batchSize?: number;
  /**
   * How long to wait before reading again when a read came back short (caught up). Appends this
   * store commits in this process wake the tail at once; this bounds the wait for everything
   * else (other processes, and events held back by a transaction still running). Default 50 ms.
   */
  readonly pollIntervalMs?: number;
  /** The clock for the poll interval. Default the real one. */
  readonly clock?: Clock;
  /** Aborting stops the tail, as `stop()` does. */
  readonly signal?: AbortSignal;
  /**
   * Called with each non-empty page, in order; the next read waits until it settles. If it
   * throws or rejects, the tail stops and `done` rejects with that error.
   */
  readonly onEvents: (events: readonly GlobalEvent[]) => void | Promise<void>;
}

/** A running tail. */
export interface Tail {
  /** The offset of the last event handed to `onEvents` (the start offset before any). */
  readonly offset: GlobalOffset;
  /** Settles when the tail stops: resolves on `stop()`/abort, rejects with a read's or `onEvents`'s error. */
  readonly done: Promise<void>;
  /** Stops after the page in hand, if any; resolves when it has. Idempotent. */
  stop(): Promise<void>;
}

export const TAIL_DEFAULTS = { batchSize: 500, pollIntervalMs: 50 } as const;

/**
 * Follows the journal's global order from an offset: reads a page, hands it to `onEvents`, and
 * reads on; when caught up, waits for a commit in this process or the poll interval. Every
 * committed event matching the filters is handed over exactly once, in global order (so each
 * id's in sequence order), as long as the tail runs; to survive restarts, keep `offset` and start
 * the next tail after it (that is what projections do).
 */
export function tailJournal(journal: Journal, options: TailOptions): Tail {
  if (typeof options !== 'object' || options === null || typeof options.onEvents !== 'function') {
    throw new PersistenceArgumentError('options.onEvents', 'must be a function');
  }
  let offset = options.afterOffset ?? START_OFFSET;
  parseOffset(offset, 'options.afterOffset');
  const max = checkPositiveInt(options.batchSize ?? TAIL_DEFAULTS.batchSize, 'options.batchSize');
  const pollMs = options.pollIntervalMs ?? TAIL_DEFAULTS.pollIntervalMs;
  if (!(typeof pollMs === 'number' && pollMs >= 0 && Number.isFinite(pollMs))) {
    throw new PersistenceArgumentError('options.pollIntervalMs', `must be a finite number >= 0, got ${String(pollMs)}`);
  }
  const clock = options.clock ?? systemClock;
  const { tag, persistenceIdPrefixes, onEvents, signal } = options;

  let stopped = false;
  /** A commit was seen since the last read started: read again without waiting. */
  let dirty = false;
  let wake: (() => void) | null = null;
  let timer: TimerHandle | null = null;
  const nudge = (): void => {
    dirty = true;
    if (wake !== null) wake();
  };
  const unsubscribe = journal.onCommit(nudge);
  const stop = (): void => {
    stopped = true;
    nudge();
  };
  signal?.addEventListener('abort', stop, { once: true });
  if (signal?.aborted === true) stopped = true;

  const waitForMore = (): Promise<void> =>
    new Promise<void>((resolve) => {
      wake = () => {
        wake = null;
        if (timer !== null) clock.clearTimeout(timer);
        timer = null;
        resolve();
      };
      timer = clock.setTimeout(() => wake?.(), pollMs);
    });

  const run = async (): Promise<void> => {
    try {
      while (!stopped) {
        dirty = false;
        const page = await journal.readGlobal({
          afterOffset: offset,
          max,
          ...(tag === undefined ? {} : { tag }),
          ...(persistenceIdPrefixes === undefined ? {} : { persistenceIdPrefixes }),
        });
        if (stopped) break;
        if (page.length > 0) {
          await onEvents(page);
          offset = (page[page.length - 1] as GlobalEvent).offset;
        }
        if (page.length < max && !dirty && !stopped) await waitForMore();
      }
    } finally {
      unsubscribe();
      signal?.removeEventListener('abort', stop);
    }
  };
  const done = run();
  done.catch(() => {}); // observed through `done` by the caller
  return {
    get offset() {
      return offset;
    },
    done,
    async stop() {
      stop();
      await done.catch(() => {});
    },
  };
}
