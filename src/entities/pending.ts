import { Ask } from '../actors/ask.js';
import type { CommandDef } from './definition.js';
import type { Slot } from './slot.js';
import type { Delivery } from './timers/timer-service.js';

/**
 * @internal Told of a command's outcome instead of a promise: for a caller that answers many
 * commands (the gateway's connections), one listener and a token per command cost less than a
 * promise and two closures each, and the answer arrives without a microtask hop. Its methods are
 * called from inside the entity as it finishes a batch (or from a timeout): they must not throw.
 */
export interface AskListener {
  answered(token: unknown, value: unknown): void;
  failed(token: unknown, error: unknown): void;
}

/**
 * @internal A command's OpenTelemetry spans (src/tracing), told by the entity as it handles the
 * command and commits its batch. Null on every command unless a gateway traces: one check.
 */
export interface CommandTrace {
  handling(sequenceNr: number, attempt: number): void;
  /** The handler returned (error undefined) or threw. */
  handled(error: unknown): void;
  committing(batchSize: number): void;
  /** The batch's write committed (error undefined) or failed. */
  committed(error: unknown, sequenceNr: number): void;
  /** Its span's W3C traceparent, carried on when the command is forwarded to another node. */
  readonly traceparent: string;
}

/** @internal The spans of a command another node forwarded (src/tracing): ended once it is answered. */
export interface ForwardedTrace extends CommandTrace {
  end(reply: null, error: unknown): void;
}

/** @internal Makes a forwarded command's spans; set on the runtime by a tracing gateway. */
export interface CommandTracer {
  forwarded(entityType: string, entityId: string, command: string, traceparent: string): ForwardedTrace;
}

/** @internal What a queued item asks the entity to do. */
export const COMMAND = 0;
export const SUBSCRIBE = 1;

/** @internal Where a command stands with its input's validation (see `Slot.held`). */
export const VALID = 0;
export const VALIDATING = 1;
export const INVALID = 2;
/** Its ask timed out or was aborted while its input was being validated: it will never run. */
export const DROPPED = 3;

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
  /** The command's input: the schema's output (set when an async validation settles). */
  input: unknown;
  /** VALID unless an async validation is running or failed (then `invalid` says why). */
  validation: typeof VALID | typeof VALIDATING | typeof INVALID | typeof DROPPED = VALID;
  invalid: unknown = undefined;
  /** A durable timer's delivery: the handler's `ctx.timer`, and what its write completes. */
  timer: Delivery | null = null;
  /** Its spans, when a tracing gateway sent it. */
  trace: CommandTrace | null = null;
  private handled = false;

  constructor(
    readonly type: typeof COMMAND | typeof SUBSCRIBE,
    readonly def: CommandDef | null,
    input: unknown,
    readonly slot: Slot,
    readonly wantsReply: boolean,
    readonly subscription: SubscriptionRequest | null,
    private readonly listener: AskListener | null = null,
    private readonly token: unknown = undefined,
  ) {
    // With a listener the outcome goes to it, and there is no promise.
    super(undefined, slot, wantsReply && listener === null);
    this.input = input;
  }

  // The actor core's Ask is left as it is (its hot path is every actor ask); the listener is told
  // here, after the ask has settled.
  override reply(value: unknown): boolean {
    if (!super.reply(value)) return false;
    if (this.listener !== null) this.listener.answered(this.token, value);
    return true;
  }

  override reject(error: unknown): boolean {
    if (!super.reject(error)) return false;
    if (this.listener !== null) this.listener.failed(this.token, error);
    if (this.validation === VALIDATING) {
      // Timed out or aborted before its input was validated: it gives up its place, so a
      // validator that never settles cannot hold up the entity's later commands for ever.
      this.validation = DROPPED;
      this.slot.region.runtime.release(this.slot);
    }
    return true;
  }

  /** The entity answered it. */
  succeed(value: unknown): void {
    if (this.handled) return;
    this.handled = true;
    this.reply(value);
    this.slot.region.runtime.settled();
  }

  /** It will never run and its asker was already answered (a timeout while it was being validated): only counts it as settled. */
  discard(): void {
    if (this.handled) return;
    this.handled = true;
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
