import { BeamstateError } from '../errors.js';
import { type ExitReason, formatReason } from './exit-reason.js';

/** Names an actor in error messages without holding on to it. */
export interface ActorLabel {
  readonly id: number;
  readonly name: string | undefined;
}

function label(a: ActorLabel): string {
  return a.name === undefined ? `<${a.id}>` : `${a.name}<${a.id}>`;
}

/** `NOPROC`: the target of an ask (or a monitor, link or stop) was already dead. */
export class NoProcError extends BeamstateError {
  readonly actor: ActorLabel;
  constructor(actor: ActorLabel) {
    super('NOPROC', `actor ${label(actor)} is not alive`);
    this.actor = actor;
  }
}

/** `ACTOR_EXITED`: the target of an ask exited before it replied; `reason` is its exit reason. */
export class ActorExitedError extends BeamstateError {
  readonly actor: ActorLabel;
  readonly reason: ExitReason;
  constructor(actor: ActorLabel, reason: ExitReason) {
    super('ACTOR_EXITED', `actor ${label(actor)} exited before replying: ${formatReason(reason)}`, {
      cause: reason instanceof Error ? reason : undefined,
    });
    this.actor = actor;
    this.reason = reason;
  }
}

/** `ASK_TIMEOUT`: no reply within the ask's timeout. The message may still be handled later. */
export class AskTimeoutError extends BeamstateError {
  readonly actor: ActorLabel;
  readonly timeout: number;
  constructor(actor: ActorLabel, timeout: number) {
    super('ASK_TIMEOUT', `ask to actor ${label(actor)} timed out after ${timeout} ms`);
    this.actor = actor;
    this.timeout = timeout;
  }
}

/** `ASK_ABORTED`: the ask's `AbortSignal` fired; `cause` is the signal's reason. */
export class AskAbortedError extends BeamstateError {
  constructor(actor: ActorLabel, cause: unknown) {
    super('ASK_ABORTED', `ask to actor ${label(actor)} was aborted`, { cause });
  }
}

/** `MAILBOX_FULL`: a bounded mailbox refused or evicted the message. */
export class MailboxFullError extends BeamstateError {
  readonly actor: ActorLabel;
  constructor(actor: ActorLabel, capacity: number) {
    super('MAILBOX_FULL', `mailbox of actor ${label(actor)} is full (capacity ${capacity})`);
    this.actor = actor;
  }
}

/** `STASH_FULL`: `ctx.stash()` beyond the stash's capacity. */
export class StashOverflowError extends BeamstateError {
  constructor(actor: ActorLabel, capacity: number) {
    super('STASH_FULL', `stash of actor ${label(actor)} is full (capacity ${capacity})`);
  }
}

/** `NAME_TAKEN`: another live actor is registered under this name (OTP's `already_started`). */
export class NameTakenError extends BeamstateError {
  readonly actorName: string;
  constructor(name: string) {
    super('NAME_TAKEN', `the name ${JSON.stringify(name)} is already registered`);
    this.actorName = name;
  }
}

/** `ACTOR_CRASHED`: wraps a thrown value that was not an `Error`, so every crash reason is an `Error`. */
export class ActorCrashError extends BeamstateError {
  constructor(thrown: unknown) {
    super('ACTOR_CRASHED', `actor handler threw a non-Error value: ${formatReason(thrown)}`, { cause: thrown });
  }
}

/** `INIT_FAILED`: `start()` could not start the actor because its `init` failed; `cause` is the failure. */
export class ActorInitError extends BeamstateError {
  readonly reason: ExitReason;
  constructor(actor: ActorLabel, reason: ExitReason) {
    super('INIT_FAILED', `actor ${label(actor)} failed to start: ${formatReason(reason)}`, { cause: reason });
    this.reason = reason;
  }
}

/** `SYSTEM_STOPPED`: the actor system is stopping or stopped and accepts no new actors. */
export class SystemStoppedError extends BeamstateError {
  constructor() {
    super('SYSTEM_STOPPED', 'the actor system is stopped');
  }
}

/** `INVALID_OPTION`: an option or argument is out of range or of the wrong type; `field` names it. */
export class InvalidOptionError extends BeamstateError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('INVALID_OPTION', `${field}: ${message}`);
    this.field = field;
  }
}
