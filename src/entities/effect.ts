import type { BeamstateError } from '../errors.js';
import { CommandFailedError } from './errors.js';
import type { CommandSpecs, EntityRef } from './entity-ref.js';

/** What to do after the write, in order. @internal */
export type Step<State> =
  | { readonly kind: 'run'; readonly fn: (state: State) => void | Promise<void> }
  | { readonly kind: 'reply'; readonly fn: (state: State) => unknown }
  | { readonly kind: 'forward'; readonly ref: EntityRef<CommandSpecs>; readonly command: string; readonly input: unknown }
  | { readonly kind: 'passivate' };

/** @internal What an effect writes. */
export const NO_WRITE = 0;
export const UPDATE = 1;
export const DELETE = 2;

/**
 * What a command handler decided: what to persist (events, or a new state), what to answer, and
 * what to do afterwards. Built with the handler's `ctx` (`ctx.emit(…)`, `ctx.update(…)`,
 * `ctx.reply(…)`, `ctx.fail(…)`, `ctx.forward(…)`); nothing happens until the handler returns it.
 * `Reply` is the type the asker receives.
 */
export interface Effect<State, Reply> {
  /** Phantom, types only (never set): the reply type. Kept in the declarations: replies are inferred from it. */
  readonly '~reply'?: Reply;
  /** Phantom, types only (never set): the state type. */
  readonly '~state'?: (state: State) => void;
}

/**
 * An effect that can be extended: side effects, the reply, a forward, passivation. Each step
 * runs after the write has committed, in the order given; none runs if the write fails, and none
 * runs when events are replayed during recovery.
 */
export class EffectBuilder<State, Reply = undefined> implements Effect<State, Reply> {
  /** @internal */ events: readonly unknown[] | null = null;
  /** @internal Tags for every event of `events` (`ctx.emit(…, { tags })`), null for none. */ tags: readonly string[] | null = null;
  /** @internal */ write = NO_WRITE;
  /** @internal */ newState: unknown = undefined;
  /** @internal */ steps: Step<State>[] | null = null;
  /** @internal */ failure: BeamstateError | null = null;
  /** @internal */ replies = false;
  /** @internal A reply that is the only step (no array needed). */ replyFn: ((state: State) => unknown) | null = null;
  declare readonly '~reply'?: Reply;

  /** Runs `fn` with the state after the write (once it has committed). Errors are logged, not replied. */
  thenRun(fn: (state: State) => void | Promise<void>): EffectBuilder<State, Reply> {
    this.step({ kind: 'run', fn });
    return this;
  }

  /** Replies with what `fn` computes from the state after the write. */
  thenReply<R>(fn: (state: State) => R): EffectBuilder<State, R> {
    this.replyStep();
    if (this.steps === null && this.failure === null) this.replyFn = fn; // the common case, without a steps array
    else this.step({ kind: 'reply', fn });
    return this as unknown as EffectBuilder<State, R>;
  }

  /** Replies with `value` once the write has committed. */
  reply<R>(value: R): EffectBuilder<State, R> {
    return this.thenReply(() => value);
  }

  /**
   * After the write, sends `command` to another entity; its reply (or failure) becomes this
   * command's reply. The entity does not wait for it and goes on with its next command.
   */
  thenForward<C extends CommandSpecs, K extends keyof C & string>(
    ref: EntityRef<C>,
    command: K,
    input: C[K]['input'],
  ): EffectBuilder<State, C[K]['reply']> {
    this.replyStep();
    this.step({ kind: 'forward', ref: ref as unknown as EntityRef<CommandSpecs>, command, input });
    return this as unknown as EffectBuilder<State, C[K]['reply']>;
  }

  /** Passivates the entity once it has no more queued commands. */
  thenPassivate(): EffectBuilder<State, Reply> {
    this.step({ kind: 'passivate' });
    return this;
  }

  private step(s: Step<State>): void {
    if (this.failure !== null) throw new TypeError('a failed effect cannot be extended');
    const steps = (this.steps ??= []);
    if (this.replyFn !== null) {
      // A reply given first, then more steps: keep their order.
      steps.push({ kind: 'reply', fn: this.replyFn });
      this.replyFn = null;
    }
    steps.push(s);
  }

  private replyStep(): void {
    if (this.replies) throw new TypeError('an effect replies once: it already has a reply or forward');
    this.replies = true;
  }
}

/**
 * A command rejected with `ctx.fail(message)`: nothing is persisted and the caller gets
 * `COMMAND_FAILED`. A separate type from {@link Effect} so that a handler's reply type is
 * inferred from the effects that do reply.
 */
export interface Failure {
  /** Phantom, types only (never set): tells a failure from an effect. */
  readonly '~failure'?: true;
}

/** What a command handler may return (or resolve to). */
export type HandlerResult<State, Reply> = Effect<State, Reply> | Failure;

/** @internal */
export function failure(message: string, details: unknown): Failure {
  if (typeof message !== 'string') throw new TypeError('ctx.fail(message): message must be a string');
  const e = new EffectBuilder<unknown, never>();
  e.failure = new CommandFailedError(message, details);
  return e as Failure;
}

/**
 * A command rejected with an error of its own code instead of `COMMAND_FAILED` (the Kalix proxy's
 * protocol errors): nothing is persisted, the entity lives on, the caller gets `error`.
 * @internal
 */
export function failureWith(error: BeamstateError): Failure {
  const e = new EffectBuilder<unknown, never>();
  e.failure = error;
  return e as Failure;
}

/** @internal */
export function isEffect(value: unknown): value is EffectBuilder<unknown, unknown> {
  return value instanceof EffectBuilder;
}

/** Effects every kind of handler can build. */
export interface BaseEffects<State> {
  /** Persist nothing; continue with `.thenReply`, `.thenRun`, … */
  none(): EffectBuilder<State, undefined>;
  /** Persist nothing and reply `value`. */
  reply<R>(value: R): EffectBuilder<State, R>;
  /** Reject the command with `COMMAND_FAILED` and `message`: nothing is persisted, the entity lives on. */
  fail(message: string, details?: unknown): Failure;
  /** Persist nothing and forward to another entity, whose reply becomes this command's reply. */
  forward<C extends CommandSpecs, K extends keyof C & string>(ref: EntityRef<C>, command: K, input: C[K]['input']): EffectBuilder<State, C[K]['reply']>;
}
