import { Ask } from '../actors/ask.js';
import type { CommandDef } from './definition.js';
import type { Slot } from './slot.js';

/** @internal What a queued item asks the entity to do. */
export const COMMAND = 0;
export const SUBSCRIBE = 1;

/** @internal The listener side of a subscription. */
export interface SubscriptionRequest {
  readonly events: boolean;
  readonly state: boolean;
  /** Replay persisted events from this sequence number before live ones (events only). */
  readonly fromSequenceNr: number | undefined;
  readonly subscriber: Subscriber;
}

/** @internal */
export interface Subscriber {
  readonly onEvent: ((event: unknown, sequenceNr: number) => void) | null;
  readonly onState: ((state: unknown, version: number) => void) | null;
  readonly onEnd: ((reason: Error) => void) | null;
  active: boolean;
}

/**
 * A command (or subscription) waiting in an entity's queue. It stays at the head of the queue
 * until the entity has answered it, so a crash while handling it leaves it there for the next
 * incarnation, which counts the attempt. The reply promise, its timeout and its abort signal are
 * the actor core's `Ask`, so entity asks behave exactly as actor asks.
 * @internal
 */
export class Pending {
  attempts = 0;
  /** The last crash it caused, for the poison report. */
  lastCrash: unknown = undefined;
  /** Null for a told command: its outcome is only logged. */
  readonly ask: Ask | null;
  private done = false;

  constructor(
    readonly kind: typeof COMMAND | typeof SUBSCRIBE,
    readonly def: CommandDef | null,
    readonly input: unknown,
    readonly slot: Slot,
    wantReply: boolean,
    readonly subscription: SubscriptionRequest | null,
  ) {
    this.ask = wantReply ? new Ask(input, slot) : null;
  }

  reply(value: unknown): void {
    if (this.done) return;
    this.done = true;
    if (this.ask !== null) this.ask.reply(value);
    this.slot.region.runtime.settled();
  }

  fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    if (this.ask !== null) this.ask.reject(error);
    else this.slot.region.runtime.logger.warn({ entity: this.slot.name, command: this.def?.name, err: error }, 'told command failed');
    this.slot.region.runtime.settled();
  }
}
