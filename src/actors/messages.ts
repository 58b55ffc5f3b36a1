/**
 * Development aid: actors share messages by reference (fast, and what JavaScript does anyway),
 * so an object mutated after it was sent changes under the receiver's feet. With
 * `messages: 'freeze'` every message is deep-frozen when sent, so such a mutation throws (in
 * strict mode) at the culprit; with `'clone'` every message is copied with `structuredClone`,
 * as if it had crossed a process boundary. Both cost time; use them in development and tests.
 */
export type MessagePassing = 'reference' | 'freeze' | 'clone';

export function deepFreeze<T>(value: T): T {
  freezeInto(value, new Set());
  return value;
}

function freezeInto(value: unknown, seen: Set<unknown>): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  // Typed arrays and buffers cannot be frozen while they have elements; leave them be.
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return;
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
