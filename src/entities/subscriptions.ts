import type { Batch, EntityCell } from './entity-cell.js';
import type { Pending, Subscriber } from './pending.js';
import type { EntityRuntime } from './runtime.js';
import type { Slot } from './slot.js';

/**
 * One change of an entity, as subscribers see it. `Event` and `State` are the definition's types
 * where they are known (a typed client ref), `unknown` otherwise.
 */
export type EntityUpdate<Event = unknown, State = unknown> =
  | {
      readonly kind: 'event';
      readonly entityType: string;
      readonly entityId: string;
      /** The event's sequence number. */
      readonly sequenceNr: number;
      readonly event: Event;
    }
  | {
      readonly kind: 'state';
      readonly entityType: string;
      readonly entityId: string;
      /** The sequence number (event-sourced) or revision (value entity) of this state. */
      readonly version: number;
      readonly state: State;
    };

/** A live subscription; ends when unsubscribed or when the runtime stops. */
export interface Subscription extends Disposable {
  unsubscribe(): void;
  readonly active: boolean;
}

/**
 * Who watches which entity. Subscriptions belong to the runtime, not to an incarnation, so they
 * survive passivation and restarts: the next incarnation publishes to them. A subscription is
 * established by a queued request that the entity handles between commands, so the current
 * state it sends first and the changes that follow have neither gap nor overlap.
 * @internal
 */
export class Subscriptions {
  private readonly byPid = new Map<string, Set<Subscriber>>();

  constructor(private readonly runtime: EntityRuntime) {}

  /** Handles a queued subscription request at the head of `cell`'s queue. */
  start(cell: EntityCell, p: Pending): Promise<void> | undefined {
    const req = p.subscription;
    const slot = cell.slot;
    if (req === null || !req.subscriber.active) {
      p.succeed(undefined);
      return undefined;
    }
    const sub = req.subscriber;
    const from = req.fromSequenceNr;
    if (req.events && from !== undefined && from <= cell.version && slot.region.type.kind === 'event-sourced') {
      // Catch up from the journal, then go live: the entity handles nothing else meanwhile.
      return this.runtime.store.journal
        .replay(slot.persistenceId, { fromSequenceNr: from, toSequenceNr: cell.version }, (e) => this.call(sub, () => sub.onEvent?.(e.payload, e.sequenceNr)))
        .then(
          () => this.go(cell, p, sub, req.state),
          (err: unknown) => {
            p.fail(err);
          },
        );
    }
    this.go(cell, p, sub, req.state);
    return undefined;
  }

  private go(cell: EntityCell, p: Pending, sub: Subscriber, state: boolean): void {
    if (!sub.active) {
      // Given up on during its catch-up (the subscribe timed out): it does not go live.
      p.succeed(undefined);
      return;
    }
    if (state && sub.onState !== null) this.call(sub, () => sub.onState?.(cell.state, cell.version));
    const pid = cell.slot.persistenceId;
    let set = this.byPid.get(pid);
    if (set === undefined) this.byPid.set(pid, (set = new Set()));
    set.add(sub);
    p.succeed(undefined);
  }

  /** After a committed write: events one by one, and the state after each command that wrote. */
  publish(slot: Slot, batch: Batch, fromVersion: number): void {
    if (this.byPid.size === 0) return;
    const set = this.byPid.get(slot.persistenceId);
    if (set === undefined) return;
    if (slot.region.type.kind === 'value') {
      // One write per batch: only the final state has a revision of its own.
      const state = batch.state(batch.size - 1);
      for (const sub of set) if (sub.onState !== null) this.call(sub, () => sub.onState?.(state, slot.version));
      return;
    }
    let seq = fromVersion;
    for (let i = 0; i < batch.size; i++) {
      const events = batch.effect(i).events;
      if (events === null) continue;
      for (const event of events) {
        seq++;
        const n = seq;
        for (const sub of set) if (sub.onEvent !== null) this.call(sub, () => sub.onEvent?.(event, n));
      }
      const state = batch.state(i);
      const version = seq;
      for (const sub of set) if (sub.onState !== null) this.call(sub, () => sub.onState?.(state, version));
    }
  }

  remove(persistenceId: string, sub: Subscriber): void {
    sub.active = false;
    const set = this.byPid.get(persistenceId);
    if (set === undefined) return;
    set.delete(sub);
    if (set.size === 0) this.byPid.delete(persistenceId);
  }

  /** @internal Ends the subscriptions of the persistence ids `which` picks, telling each (onEnd) first. */
  endWhere(which: (persistenceId: string) => boolean, reason: Error): void {
    for (const [pid, set] of [...this.byPid]) {
      if (!which(pid)) continue;
      this.byPid.delete(pid);
      for (const sub of set) {
        if (sub.onEnd !== null) this.call(sub, () => sub.onEnd?.(reason));
        sub.active = false;
      }
    }
  }

  /** Ends every subscription (the runtime stops). */
  endAll(reason: Error): void {
    for (const set of this.byPid.values()) {
      for (const sub of set) {
        sub.active = false;
        if (sub.onEnd !== null) this.call(sub, () => sub.onEnd?.(reason));
      }
    }
    this.byPid.clear();
  }

  /** A throwing listener is logged; it never disturbs the entity. */
  private call(sub: Subscriber, fn: () => void): void {
    if (!sub.active) return;
    try {
      fn();
    } catch (err) {
      this.runtime.logger.warn({ err }, 'subscriber threw');
    }
  }
}
