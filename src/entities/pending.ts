import { Ask, type AskListener } from '../actors/ask.js';
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
 * A command (or subscription request) waiting in an entity's queue. It stays at the head of the
 * queue until the entity has answered it, so a crash while handling it leaves it there for the
 * next incarnation, which counts the attempt. It is the actor core's `Ask` (its promise, timeout
 * and abort signal behave exactly as an actor ask's); a told command has no promise.
 *
 * The asker's side (`reply`, `reject`: also settled by a timeout or an abort) and the entity's
 * side (`succeed`, `fail`: the command was handled) are separate: a command whose ask timed out
 * is still handled, as with `gen_server:call`.
 * @internal
 */
export class Pending extends Ask {
  attempts = 0;
  /** The last crash it caused, for the poison report. */
  lastCrash: unknown = undefined;
  private handled = false;

  constructor(
    readonly type: typeof COMMAND | typeof SUBSCRIBE,
    readonly def: CommandDef | null,
    input: unknown,
    readonly slot: Slot,
    readonly wantsReply: boolean,
    readonly subscription: SubscriptionRequest | null,
    listener: AskListener | null = null,
    token: unknown = undefined,
  ) {
    // With a listener the outcome goes to it, and there is no promise.
    super(input, slot, wantsReply && listener === null);
    if (listener !== null) {
      this.listener = listener;
      this.token = token;
    }
  }

  get input(): unknown {
    return this.message;
  }

  /** The entity answered it. */
  succeed(value: unknown): void {
    if (this.handled) return;
    this.handled = true;
    this.reply(value);
    this.slot.region.runtime.settled();
  }

  /** The entity (or the runtime) failed it. */
  override fail(error: unknown): boolean {
    if (this.handled) return false;
    this.handled = true;
    if (this.wantsReply) this.reject(error);
    else this.slot.region.runtime.logger.warn({ entity: this.slot.name, command: this.def?.name, err: error }, 'told command failed');
    this.slot.region.runtime.settled();
    return true;
  }
}
