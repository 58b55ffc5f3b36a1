import type { Logger } from '../logger.js';
import type { BaseEffects, EffectBuilder, HandlerResult } from './effect.js';
import type { CommandSpecs, EntityRef } from './entity-ref.js';
import { InvalidDefinitionError } from './errors.js';
import { isStandardSchema, type StandardSchemaV1 } from './standard-schema.js';
import type { TimerDelivery, TimerEffects } from './timers/schedule.js';

/** Per-type settings. Defaults: `entityDefaults` (and the runtime's `defaults` option). */
export interface EntitySettings {
  /** Save a snapshot every N events (event-sourced only); 0 never. Default 1000. */
  readonly snapshotEvery?: number;
  /** Snapshots to keep per entity; older ones are deleted. Default 2. */
  readonly snapshotKeep?: number;
  /** Passivate an entity after this long without commands; `Infinity` never. Default 120 000 ms. */
  readonly idleTimeoutMs?: number;
  /** Tries of a command that crashes its entity before it is answered with `POISON_COMMAND`. Default 3. */
  readonly maxCommandAttempts?: number;
  /** Most queued commands handled together and persisted in one write. Default 64. */
  readonly maxBatchSize?: number;
  /** Delay before a crashed entity is restarted (Akka-style exponential backoff). */
  readonly backoff?: { readonly minMs?: number; readonly maxMs?: number; readonly randomFactor?: number };
  /** Actors serving a stateless function. Default 4. */
  readonly poolSize?: number;
  /**
   * How long an async schema may take to validate a command's input before the command is
   * refused with `VALIDATION_TIMEOUT` (the commands sent after it then go on); `Infinity`: as
   * long as the ask's timeout (a tell: for ever). Default 1000 ms.
   */
  readonly validationTimeoutMs?: number;
}

/** Every default of {@link EntitySettings}, in one place. */
export const entityDefaults = {
  snapshotEvery: 1000,
  snapshotKeep: 2,
  idleTimeoutMs: 120_000,
  maxCommandAttempts: 3,
  maxBatchSize: 64,
  backoff: { minMs: 10, maxMs: 2000, randomFactor: 0.2 },
  poolSize: 4,
  validationTimeoutMs: 1000,
} as const;

/** Finds refs to entities, for forwarding. */
export interface EntityRefs {
  /** A typed ref to entity `id` of `type`. */
  ref<C extends CommandSpecs>(type: EntityType<C>, id: string): EntityRef<C>;
  /** An untyped ref by type name (as the gateway addresses entities). */
  refFor(typeName: string, id: string): EntityRef;
}

/** What every handler context offers besides effects. */
export interface HandlerContext {
  readonly entityType: string;
  /** The entity's id; for a stateless function, the serving worker's index. */
  readonly entityId: string;
  /** The name of the command being handled. Each command has a ctx of its own, also in a batch. */
  readonly command: string;
  /** The runtime's logger, bound to this entity. */
  readonly log: Logger;
  /** Refs to other entities. */
  readonly entities: EntityRefs;
  /**
   * Wall-clock time in epoch milliseconds (`Date.now()` on the real clock), for handlers that need
   * "now", e.g. to put a time in an event. It is the system clock's `systemTime()`, so a
   * `ManualClock` controls it; it can jump when the host's clock is set, so measure durations with
   * timers, not with it.
   */
  now(): number;
  /**
   * Set when this command is a durable timer's delivery (see `ctx.schedule`): its name, a
   * delivery id that is the same for every redelivery of the occurrence, the attempt and the
   * occurrence's time. Undefined for any other command.
   */
  readonly timer: TimerDelivery | undefined;
}

/** Options of `ctx.emit`. */
export interface EmitOptions {
  /** Tags stored with each event (see `EventToAppend.tags` for what a tag may be). */
  readonly tags?: readonly string[];
}

export interface EventSourcedContext<State, Event> extends BaseEffects<State>, HandlerContext, TimerEffects {
  /**
   * In the handler: the sequence number of the last event in the state it sees (0 for a new
   * entity), counting the events of the commands before it in its batch. In the command's steps
   * (`thenReply`, `thenRun`, …), after the commit: the sequence number of its own last event.
   */
  readonly sequenceNr: number;
  /** Persist these events atomically (applied to the state by the event handlers), then the chained steps. */
  emit(...events: Event[]): EffectBuilder<State, undefined>;
  /**
   * The same, with options last: `ctx.emit(event, { tags: ['region:eu'] })` stores the tags with
   * each of the events, for `journal.eventsByTag` and projections by tag.
   */
  emit(...eventsAndOptions: [...events: Event[], options: EmitOptions]): EffectBuilder<State, undefined>;
}

export interface ValueContext<State> extends BaseEffects<State>, HandlerContext, TimerEffects {
  /**
   * The revision of the stored state (0: none stored yet): in the handler, the one before its
   * batch's write; in the command's steps, the one that write made (a batch is one write).
   */
  readonly revision: number;
  /** Store `state` as the entity's new state (compare-and-set on the revision), then the chained steps. */
  update(state: State): EffectBuilder<State, undefined>;
  /** Delete the stored state (the entity starts over from its initial state), then the chained steps. */
  delete(): EffectBuilder<State, undefined>;
}

export type StatelessContext = BaseEffects<undefined> & HandlerContext;

type MaybePromise<T> = T | Promise<T>;

/** @internal A command as the runtime sees it. */
export interface CommandDef {
  readonly name: string;
  readonly schema: StandardSchemaV1 | undefined;
  /**
   * The handler returns promises: an `async` function, or a plain one seen returning a promise.
   * Such a command is handled alone, at the head of its entity's queue, on committed state.
   */
  async: boolean;
  readonly handler: (state: unknown, input: unknown, ctx: never) => MaybePromise<HandlerResult<unknown, unknown>>;
}

/** Event handlers by event `type`: pure folds of one event into the state. */
export type EventHandlers<State, Event extends { readonly type: string }> = {
  readonly [K in Event['type']]: (state: State, event: Extract<Event, { readonly type: K }>) => State;
};

type Input<S extends StandardSchemaV1> = StandardSchemaV1.InferInput<S>;
type Output<S extends StandardSchemaV1> = StandardSchemaV1.InferOutput<S>;
type With<C extends CommandSpecs, K extends string, I, R> = C & { readonly [P in K]: { readonly input: I; readonly reply: R } };

/**
 * What every kind of entity definition has. Definitions are immutable values: each builder
 * call returns a new one, so a definition can be shared and registered with several runtimes.
 */
export abstract class EntityType<C extends CommandSpecs = CommandSpecs, N extends string = string> {
  abstract readonly kind: 'event-sourced' | 'value' | 'stateless';
  /** Phantom, types only (never set): the commands, for typed refs. Kept in the declarations. */
  declare readonly '~commands'?: C;

  /** @internal */
  constructor(
    /** The type name: the first half of an entity's address (its literal type, for typed client refs). */
    readonly name: N,
    /** @internal */ readonly commands: ReadonlyMap<string, CommandDef>,
    readonly settings: EntitySettings,
  ) {}

  /** @internal */
  abstract initialState(): unknown;
}

/** An event-sourced entity type: commands decide events, pure event handlers fold them into the state. */
export class EventSourcedEntity<State, Event extends { readonly type: string }, C extends CommandSpecs = {}, N extends string = string> extends EntityType<C, N> {
  readonly kind = 'event-sourced' as const;

  /** @internal */
  constructor(
    name: N,
    private readonly init: () => State,
    /** @internal */ readonly eventHandlers: ReadonlyMap<string, (state: State, event: Event) => State>,
    commands: ReadonlyMap<string, CommandDef>,
    settings: EntitySettings,
  ) {
    super(name, commands, settings);
  }

  /** @internal */
  initialState(): State {
    return this.init();
  }

  /** @internal Folds one event into the state; an event without a handler is a bug and throws. */
  applyEvent(state: State, event: Event): State {
    const handler = this.eventHandlers.get(event.type);
    if (handler === undefined) throw new TypeError(`entity type ${this.name} has no handler for event type ${JSON.stringify(event.type)}`);
    return handler(state, event);
  }

  /** Adds a command whose input is validated by `schema` (zod or any Standard Schema). */
  command<K extends string, S extends StandardSchemaV1, R>(
    name: K,
    schema: S,
    handler: (state: State, input: Output<S>, ctx: EventSourcedContext<State, Event>) => MaybePromise<HandlerResult<State, R>>,
  ): EventSourcedEntity<State, Event, With<C, K, Input<S>, R>, N>;
  /** Adds a command that takes no input. */
  command<K extends string, R>(
    name: K,
    handler: (state: State, input: undefined, ctx: EventSourcedContext<State, Event>) => MaybePromise<HandlerResult<State, R>>,
  ): EventSourcedEntity<State, Event, With<C, K, undefined, R>, N>;
  command(name: string, a: unknown, b?: unknown): EventSourcedEntity<State, Event, CommandSpecs, N> {
    return new EventSourcedEntity(this.name, this.init, this.eventHandlers, addCommand(this, name, a, b), this.settings);
  }

  /** Returns the definition with these settings merged in. */
  withSettings(settings: EntitySettings): EventSourcedEntity<State, Event, C, N> {
    return new EventSourcedEntity(this.name, this.init, this.eventHandlers, this.commands, mergeSettings(this.settings, settings));
  }
}

/** A value entity type ("state in, state out"): handlers return the new state, stored before the reply. */
export class ValueEntity<State, C extends CommandSpecs = {}, N extends string = string> extends EntityType<C, N> {
  readonly kind = 'value' as const;

  /** @internal */
  constructor(name: N, private readonly init: () => State, commands: ReadonlyMap<string, CommandDef>, settings: EntitySettings) {
    super(name, commands, settings);
  }

  /** @internal */
  initialState(): State {
    return this.init();
  }

  command<K extends string, S extends StandardSchemaV1, R>(
    name: K,
    schema: S,
    handler: (state: State, input: Output<S>, ctx: ValueContext<State>) => MaybePromise<HandlerResult<State, R>>,
  ): ValueEntity<State, With<C, K, Input<S>, R>, N>;
  command<K extends string, R>(
    name: K,
    handler: (state: State, input: undefined, ctx: ValueContext<State>) => MaybePromise<HandlerResult<State, R>>,
  ): ValueEntity<State, With<C, K, undefined, R>, N>;
  command(name: string, a: unknown, b?: unknown): ValueEntity<State, CommandSpecs, N> {
    return new ValueEntity(this.name, this.init, addCommand(this, name, a, b), this.settings);
  }

  withSettings(settings: EntitySettings): ValueEntity<State, C, N> {
    return new ValueEntity(this.name, this.init, this.commands, mergeSettings(this.settings, settings));
  }
}

/** A stateless function ("message in, message out"), served by a pool of actors. */
export class StatelessFunction<C extends CommandSpecs = {}, N extends string = string> extends EntityType<C, N> {
  readonly kind = 'stateless' as const;

  /** @internal */
  initialState(): undefined {
    return undefined;
  }

  command<K extends string, S extends StandardSchemaV1, R>(
    name: K,
    schema: S,
    handler: (input: Output<S>, ctx: StatelessContext) => MaybePromise<HandlerResult<undefined, R>>,
  ): StatelessFunction<With<C, K, Input<S>, R>, N>;
  command<K extends string, R>(
    name: K,
    handler: (input: undefined, ctx: StatelessContext) => MaybePromise<HandlerResult<undefined, R>>,
  ): StatelessFunction<With<C, K, undefined, R>, N>;
  command(name: string, a: unknown, b?: unknown): StatelessFunction<CommandSpecs, N> {
    // Stateless handlers take (input, ctx); the runtime calls every handler as (state, input, ctx).
    // An async handler stays async through the adapter, so the runtime knows it before calling it.
    const adapt = (h: unknown): unknown => {
      if (typeof h !== 'function') return h;
      const f = h as (i: unknown, c: unknown) => unknown;
      return h instanceof AsyncFunction ? async (_state: unknown, input: unknown, ctx: unknown) => f(input, ctx) : (_state: unknown, input: unknown, ctx: unknown) => f(input, ctx);
    };
    const commands = b === undefined ? addCommand(this, name, adapt(a), undefined) : addCommand(this, name, a, adapt(b));
    return new StatelessFunction(this.name, commands, this.settings);
  }

  withSettings(settings: EntitySettings): StatelessFunction<C, N> {
    return new StatelessFunction(this.name, this.commands, mergeSettings(this.settings, settings));
  }
}

/**
 * Starts an event-sourced entity type:
 * ```ts
 * const cart = eventSourcedEntity('cart')
 *   .initialState((): Cart => ({ items: {} }))
 *   .events<CartEvent>({ ItemAdded: (s, e) => …, ItemRemoved: (s, e) => … })
 *   .command('addItem', AddItem, (state, input, ctx) => ctx.emit({ type: 'ItemAdded', … }).thenReply((s) => s));
 * ```
 */
export function eventSourcedEntity<N extends string>(name: N): {
  initialState<State>(init: () => State): {
    events<Event extends { readonly type: string }>(handlers: EventHandlers<State, Event>): EventSourcedEntity<State, Event, {}, N>;
  };
} {
  checkName(name);
  return {
    initialState<State>(init: () => State) {
      checkFunction('initialState', init);
      return {
        events<Event extends { readonly type: string }>(handlers: EventHandlers<State, Event>) {
          if (typeof handlers !== 'object' || handlers === null) throw new InvalidDefinitionError('events', 'must be an object of event handlers by event type');
          const map = new Map<string, (state: State, event: Event) => State>();
          for (const [type, h] of Object.entries(handlers)) {
            checkFunction(`events.${type}`, h);
            map.set(type, h as (state: State, event: Event) => State);
          }
          return new EventSourcedEntity<State, Event, {}, N>(name, init, map, new Map(), {});
        },
      };
    },
  };
}

/** Starts a value entity type: `valueEntity('counter').initialState(() => 0).command(…)`. */
export function valueEntity<N extends string>(name: N): { initialState<State>(init: () => State): ValueEntity<State, {}, N> } {
  checkName(name);
  return {
    initialState<State>(init: () => State) {
      checkFunction('initialState', init);
      return new ValueEntity<State, {}, N>(name, init, new Map(), {});
    },
  };
}

/** Starts a stateless function: `statelessFunction('greeter').command('greet', Schema, (input, ctx) => ctx.reply(…))`. */
export function statelessFunction<N extends string>(name: N): StatelessFunction<{}, N> {
  checkName(name);
  return new StatelessFunction<{}, N>(name, new Map(), {});
}

/** The constructor of `async` functions (not a global). */
const AsyncFunction = (async () => {}).constructor;

function addCommand(def: EntityType<CommandSpecs>, name: string, a: unknown, b: unknown): Map<string, CommandDef> {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidDefinitionError('command', 'a command needs a non-empty name');
  if (def.commands.has(name)) throw new InvalidDefinitionError(`commands.${name}`, 'a command of that name is already defined');
  let schema: StandardSchemaV1 | undefined;
  let handler: unknown;
  if (b === undefined) {
    handler = a;
  } else {
    if (!isStandardSchema(a)) throw new InvalidDefinitionError(`commands.${name}.schema`, 'must be a Standard Schema (zod, valibot, …)');
    schema = a;
    handler = b;
  }
  checkFunction(`commands.${name}.handler`, handler);
  const commands = new Map(def.commands);
  commands.set(name, { name, schema, handler: handler as CommandDef['handler'], async: handler instanceof AsyncFunction });
  return commands;
}

function mergeSettings(base: EntitySettings, extra: EntitySettings): EntitySettings {
  const merged = { ...base, ...extra, ...(base.backoff || extra.backoff ? { backoff: { ...base.backoff, ...extra.backoff } } : {}) };
  checkSettings(merged, 'settings');
  return merged;
}

/** @internal Validates settings, naming the bad field. */
export function checkSettings(s: EntitySettings, prefix: string): void {
  const int = (field: keyof EntitySettings, min: number, allowInfinity = false): void => {
    const v = s[field];
    if (v === undefined) return;
    if (typeof v !== 'number' || (!Number.isInteger(v) && !(allowInfinity && v === Infinity)) || v < min) {
      throw new InvalidDefinitionError(`${prefix}.${field}`, `must be an integer >= ${min}${allowInfinity ? ' or Infinity' : ''}, got ${String(v)}`);
    }
  };
  int('snapshotEvery', 0);
  int('snapshotKeep', 1);
  int('idleTimeoutMs', 1, true);
  int('maxCommandAttempts', 1);
  int('maxBatchSize', 1);
  int('poolSize', 1);
  int('validationTimeoutMs', 1, true);
  const b = s.backoff;
  if (b !== undefined) {
    for (const k of ['minMs', 'maxMs'] as const) {
      const v = b[k];
      if (v !== undefined && !(typeof v === 'number' && v >= 0 && Number.isFinite(v))) {
        throw new InvalidDefinitionError(`${prefix}.backoff.${k}`, `must be a finite number >= 0, got ${String(v)}`);
      }
    }
    const r = b.randomFactor;
    if (r !== undefined && !(typeof r === 'number' && r >= 0 && r <= 1)) {
      throw new InvalidDefinitionError(`${prefix}.backoff.randomFactor`, `must be between 0 and 1, got ${String(r)}`);
    }
  }
}

function checkName(name: unknown): void {
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new InvalidDefinitionError('name', `must be 1-64 characters: a letter, then letters, digits, '_', '.', '-'; got ${JSON.stringify(name)}`);
  }
}

function checkFunction(field: string, f: unknown): void {
  if (typeof f !== 'function') throw new InvalidDefinitionError(field, 'must be a function');
}
