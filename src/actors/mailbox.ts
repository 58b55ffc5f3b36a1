import type { OverflowPolicy } from './ref.js';
import { RingBuffer } from './ring-buffer.js';

/**
 * An actor's mailbox: a ring buffer, unbounded unless the actor was spawned with a capacity.
 * The bound applies to user messages; the runtime's own notifications (timer ticks, `down`)
 * are always accepted. Exit signals and stop requests live in a separate queue that is
 * handled first.
 * @internal
 */
export class Mailbox extends RingBuffer<unknown> {
  /** A small integer, not Infinity: V8 would box a double in every mailbox. */
  capacity = UNBOUNDED;
  overflow: OverflowPolicy = 'drop-newest';
  /**
   * The runtime's own items in the mailbox (timer messages, `down` notifications): always
   * accepted, and not counted against `capacity`. An estimate that only errs high on the user
   * side (items that come back from the stash are not counted here), which is the safe side.
   */
  internal = 0;

  constructor() {
    super(4);
  }
}

/** "No bound": the largest small integer, so the capacity check stays one integer compare. */
export const UNBOUNDED = 0x7fffffff;
