/**
 * Development aid: actors share messages by reference (fast, and what JavaScript does anyway),
 * so an object mutated after it was sent changes under the receiver's feet. With
 * `messages: 'freeze'` every message is deep-frozen when sent, so such a mutation throws (in
 * strict mode) at the culprit; with `'clone'` every message is copied with `structuredClone`,
 * as if it had crossed a process boundary. Both cost time; use them in development and tests.
 */
export type MessagePassing = 'reference' | 'freeze' | 'clone';

/** Messages the runtime sends itself (a supervisor's calls and retries): never frozen or cloned. */
const runtimeMessages = new WeakSet<object>();

/** @internal Marks one of the runtime's own messages: it carries functions and refs by design. */
export function runtimeMessage<T extends object>(message: T): T {
  runtimeMessages.add(message);
  return message;
}

/** @internal */
export function isRuntimeMessage(message: object): boolean {
  return runtimeMessages.has(message);
}

export function deepFreeze<T>(value: T): T {
  freezeInto(value, new Set());
  return value;
}

/**
 * Only data is frozen: plain objects, arrays, Maps and Sets, and what they hold. Instances of
 * other classes are left as they are and not descended into: an actor ref, a `replyTo` or a
 * supervisor handle in a message leads to the live runtime (the actor, its system, the
 * scheduler), which freezing would break. Typed arrays and buffers cannot be frozen while they
 * have elements.
 */
function isData(value: object): boolean {
  if (Array.isArray(value) || value instanceof Map || value instanceof Set) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function freezeInto(value: unknown, seen: Set<unknown>): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  if (!isData(value)) return;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      freezeInto(k, seen);
      freezeInto(v, seen);
    }
  } else if (value instanceof Set) {
    for (const v of value) freezeInto(v, seen);
  }
  for (const key of Reflect.ownKeys(value)) {
    freezeInto((value as Record<PropertyKey, unknown>)[key], seen);
  }
  Object.freeze(value);
}
