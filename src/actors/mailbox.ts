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
   * accepted, and not counted against `capacity`. Kept by the actor wherever such an item
   * enters or leaves (queued, handled, flushed with a demonitor, unstashed, dropped on death).
   */
  internal = 0;

  constructor() {
    super(4);
  }
}

/** "No bound": the largest small integer, so the capacity check stays one integer compare. */
export const UNBOUNDED = 0x7fffffff;
