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
  capacity = Infinity;
  overflow: OverflowPolicy = 'drop-newest';
}
