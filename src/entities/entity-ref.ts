import type { AskOptions } from '../actors/ref.js';

/** The type-level description of one command: what the caller sends and what it gets back. */
export interface CommandSpec {
  readonly input: unknown;
  readonly reply: unknown;
}

/** All commands of an entity type, by name. */
export type CommandSpecs = { readonly [name: string]: CommandSpec };

/** The arguments after the command name: the input may be left out when the command takes none. */
export type CommandArgs<Input, Extra> = undefined extends Input ? [input?: Input, options?: Extra] : [input: Input, options?: Extra];

/**
 * The address of one entity, `(type, id)`: send it commands. Holding a ref costs nothing and does
 * not activate the entity; the first command does. A ref stays valid across passivation,
 * crashes and restarts.
 */
export interface EntityRef<C extends CommandSpecs = CommandSpecs> {
  readonly type: string;
  readonly id: string;
  /**
   * Sends a command and resolves with its reply once whatever it wrote has committed. Rejects with
   * `INVALID_COMMAND` (before anything is queued), `UNKNOWN_COMMAND`, `COMMAND_FAILED` (the
   * handler's `ctx.fail`), `PERSIST_FAILED`, `ENTITY_CONFLICT`, `POISON_COMMAND`,
   * `RECOVERY_FAILED`, `ASK_TIMEOUT` or `ASK_ABORTED`.
   */
  ask<K extends keyof C & string>(command: K, ...args: CommandArgs<C[K]['input'], AskOptions>): Promise<C[K]['reply']>;
  /** Sends a command without waiting for its reply; failures are logged. */
  tell<K extends keyof C & string>(command: K, ...args: CommandArgs<C[K]['input'], never>): void;
}
