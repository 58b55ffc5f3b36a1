import type { ActorRef } from './ref.js';

/**
 * Where names live. The default keeps them in a map local to the system; a cluster can plug in
 * its own (as Erlang's `global` or `syn` replace the local registry) by implementing this.
 * Names are unique: `register` answers false when the name is held by another live actor.
 * The system unregisters an actor's name when it dies.
 */
export interface Registry {
  register(name: string, ref: ActorRef): boolean;
  unregister(name: string, ref: ActorRef): void;
  whereis(name: string): ActorRef | undefined;
  names(): Iterable<string>;
}

export class LocalRegistry implements Registry {
  private readonly byName = new Map<string, ActorRef>();

  register(name: string, ref: ActorRef): boolean {
    const held = this.byName.get(name);
    if (held !== undefined && held.alive) return false;
    this.byName.set(name, ref);
    return true;
  }

  unregister(name: string, ref: ActorRef): void {
    if (this.byName.get(name) === ref) this.byName.delete(name);
  }

  whereis(name: string): ActorRef | undefined {
    const ref = this.byName.get(name);
    return ref !== undefined && ref.alive ? ref : undefined;
  }

  names(): Iterable<string> {
    return this.byName.keys();
  }
}
