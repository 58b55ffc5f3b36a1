import { StoreClosedError } from './errors.js';

/** Shared by a store's parts: once closed, every call is refused with `StoreClosedError`. */
export class Lifecycle {
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
  }

  check(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}
