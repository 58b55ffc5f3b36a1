import type { Actor } from '../actors/actor.js';
import type { AskTarget } from '../actors/ask.js';
import { RingBuffer } from '../actors/ring-buffer.js';
import type { Pending } from './pending.js';
import type { Region } from './region.js';

/**
 * One entity's place in its region, from its first command until it passivates: the queue of
 * commands it has not answered yet, the actor currently serving it (none while it is being
 * activated or restarted), and its links in the region's least-recently-used list. Commands
 * wait here rather than in the actor's mailbox so that they outlive the actor: a crash, a kill
 * or a conflict restart loses none of them.
 * @internal
 */
export class Slot implements AskTarget {
  readonly queue = new RingBuffer<Pending>(4);
  actor: Actor | null = null;
  /** A wake-up is in the actor's mailbox: no need to send another. */
  wakePending = false;
  /** Removed from the region (passivated or failed): the next command makes a new slot. */
  detached = false;
  /** A passivation request is on its way to the actor (counted in `EntityRuntime.passivating`). */
  passivating = false;
  /** When the last command arrived, on the system clock. */
  lastActive = 0;
  lruPrev: Slot | null = null;
  lruNext: Slot | null = null;
  /**
   * How many commands at the head of `queue` belong to a write in flight. The write's outcome
   * answers them, whatever happens to the slot meanwhile: `failAll` leaves them be.
   */
  writing = 0;
  /** Who waits for that write to settle (rare: an incarnation after a kill or a give-up). */
  private writeWaiters: (() => void)[] | null = null;
  /** The entity's persisted version (sequence number or revision), kept for observers. */
  version = 0;
  /**
   * Commands whose input an async schema is still validating, with every command sent to the
   * entity after them, in the order they were sent; null when there are none. They join `queue`
   * from the front as their validations settle, so commands run in the order they were sent
   * whatever order their validators answer in (see `EntityRuntime.release`).
   */
  held: RingBuffer<Pending> | null = null;

  constructor(
    /** Numeric label for error messages (`cart/42<17>`). */
    readonly id: number,
    readonly entityId: string,
    readonly persistenceId: string,
    readonly region: Region,
  ) {}

  get name(): string {
    return `${this.region.type.name}/${this.entityId}`;
  }

  forgetAsk(): void {}

  /** True when nothing is queued, held or being handled. */
  get idle(): boolean {
    return this.queue.length === 0 && !this.wakePending && this.held === null;
  }

  /** True when commands wait for this entity (queued or held). */
  get hasWork(): boolean {
    return this.queue.length > 0 || this.held !== null;
  }

  /** The write in flight is at the database for `n` commands at the head of the queue. */
  startWriting(n: number): void {
    this.writing = n;
  }

  /** The write in flight settled (its commands are about to be taken off the queue and answered). */
  writeSettled(): void {
    this.writing = 0;
    const waiters = this.writeWaiters;
    if (waiters === null) return;
    this.writeWaiters = null;
    for (const resolve of waiters) resolve();
  }

  /**
   * Resolves once the write in flight has settled: just the store's answer, not the side effects
   * of its commands, which may take any time. At once if none is in flight.
   */
  whenWritten(): Promise<void> {
    if (this.writing === 0) return Promise.resolve();
    return new Promise((resolve) => (this.writeWaiters ??= []).push(resolve));
  }

  /** Fails every command queued or held (the slot is going away), oldest first, except those of a write in flight. */
  failAll(error: Error): void {
    const held = this.held;
    this.held = null;
    // Commands in a write that is in flight are not failed: the write may commit, and then
    // they succeeded. Its outcome answers them (EntityCell.written / writeFailed).
    let kept = this.writing;
    this.queue.filter((p) => {
      if (kept > 0) {
        kept--;
        return true;
      }
      p.fail(error);
      return false;
    });
    if (held !== null) held.drain((p) => p.fail(error));
  }
}
