import type { ExitReason } from './exit-reason.js';
import type { ActorRef, DownMessage, ExitMessage, MonitorRef } from './ref.js';

/**
 * Mailbox items that are not plain user messages all extend `Envelope`, so the hot path tells
 * them apart from user messages with one `instanceof` and a switch on `kind`. A plain `tell`
 * stores the user's message itself: no wrapper is allocated.
 * @internal
 */
export abstract class Envelope {
  abstract readonly kind: number;
}

export const ASK = 1;
export const TIMER = 2;
export const EXIT = 3;
export const DOWN = 4;

/** @internal A message delivered by an actor timer; stale (cancelled or restarted) when its generation is old. */
export class TimerEnvelope extends Envelope {
  readonly kind = TIMER;
  constructor(
    readonly key: unknown,
    readonly generation: number,
    readonly message: unknown,
  ) {
    super();
  }
}

/** @internal A trapped exit signal, delivered to `onExit`. It is the public {@link ExitMessage} itself. */
export class ExitEnvelope extends Envelope implements ExitMessage {
  readonly kind = EXIT;
  readonly type = 'exit' as const;
  constructor(
    readonly from: ActorRef | undefined,
    readonly reason: ExitReason,
  ) {
    super();
  }
}

/** @internal A monitor's notification, delivered to `onDown`. It is the public {@link DownMessage} itself. */
export class DownEnvelope extends Envelope implements DownMessage {
  readonly kind = DOWN;
  readonly type = 'down' as const;
  constructor(
    readonly monitor: MonitorRef,
    readonly actor: ActorRef,
    readonly reason: ExitReason,
  ) {
    super();
  }
}
