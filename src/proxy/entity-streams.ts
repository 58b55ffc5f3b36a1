import type { ActorSystem } from '../actors/system.js';

/** What every stream of an entity kind has: whether it is open, the state it was inited or kept in step with, and a way to end it. */
interface Stream<T> {
  readonly open: boolean;
  readonly syncedTo: T | null;
  close(): void;
}

/**
 * The open streams of one entity type, by entity id, shared by event-sourced and value entities:
 * a passivated entity's stream is closed (its next incarnation opens a new one), and `close`
 * ends them all when the proxy stops.
 */
export class EntityStreams<T, S extends Stream<T>> {
  readonly #streams = new Map<string, S>();
  readonly #unsubscribe: () => void;
  #opened = 0;

  constructor(system: ActorSystem, entityType: string) {
    this.#unsubscribe = system.events.subscribe(
      (event) => {
        if (event.type !== 'entity.passivated' || event.entityType !== entityType) return;
        this.#streams.get(event.entityId)?.close();
        this.#streams.delete(event.entityId);
      },
      ['entity.passivated'],
    );
  }

  /**
   * The entity's stream if it is open and in step with `state` (the state its command runs on);
   * else the old one is closed and `open()` makes a new one, inited with `state`.
   */
  acquire(entityId: string, state: T, open: () => S): S {
    const current = this.#streams.get(entityId);
    if (current !== undefined && current.open && current.syncedTo === state) return current;
    current?.close();
    const fresh = open();
    this.#opened++;
    this.#streams.set(entityId, fresh);
    return fresh;
  }

  /** Streams currently open. */
  openCount(): number {
    let n = 0;
    for (const s of this.#streams.values()) if (s.open) n++;
    return n;
  }

  /** Streams opened since the start. */
  get opened(): number {
    return this.#opened;
  }

  close(): void {
    this.#unsubscribe();
    for (const s of this.#streams.values()) s.close();
    this.#streams.clear();
  }
}
