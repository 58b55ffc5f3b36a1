/**
 * What a typed client ref knows of an entity definition, read off its type alone: the commands,
 * the events and the state, and the type's name. A client imports the definition with
 * `import type`, so none of this costs anything at run time or in a bundle.
 *
 * Each is a conditional type that resolves to a named type (the definition's own `Cart`,
 * `CartEvent`), so hovers show `EntityUpdate<CartEvent, Cart>`, not an expansion.
 */
import type { EntityType, EventSourcedEntity, StatelessFunction, ValueEntity } from '../entities/definition.js';
import type { CommandSpecs } from '../entities/entity-ref.js';

/** The commands of an entity definition, for typed refs: `CommandsOf<typeof cart>`. */
export type CommandsOf<T> = T extends EntityType<infer C> ? C : CommandSpecs;

/**
 * The events a definition's subscribers get: its event union for an event-sourced entity;
 * `never` for a value entity or a stateless function (they have none); `unknown` when the ref is
 * not typed by a definition.
 */
export type EventOf<T> =
  T extends EventSourcedEntity<infer _State, infer E, infer _C> ? E : T extends ValueEntity<infer _State, infer _C> | StatelessFunction<infer _C> ? never : unknown;

/**
 * The state a definition's subscribers get: its state for an event-sourced or value entity;
 * `never` for a stateless function; `unknown` when the ref is not typed by a definition.
 */
export type StateOf<T> =
  T extends EventSourcedEntity<infer S, infer _E, infer _C> ? S : T extends ValueEntity<infer S, infer _C> ? S : T extends StatelessFunction<infer _C> ? never : unknown;

/**
 * The entity type names a definition answers to: its name's literal type (`'cart'`), or any
 * string for an untyped ref (or a definition whose name is not a literal).
 */
export type NameOf<T extends EntityType> = T['name'];
