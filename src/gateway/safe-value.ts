/**
 * Hostile-input checks on a decoded JSON frame. `JSON.parse` defines a `__proto__` key as a plain
 * own property, so parsing pollutes nothing; the danger is later code (a handler doing
 * `Object.assign(target, input)`, a naive deep merge) treating such a key as the prototype. The
 * gateway refuses the keys outright, and bounds nesting so that nothing recursive downstream
 * (validators, handlers, encoders) can overflow the stack. V8's `JSON.parse` is itself
 * iterative, and this walk stops at the first level beyond the limit.
 */
import { NestingTooDeepError, UnsafeKeyError } from './errors.js';

/** Keys that name the prototype machinery, refused anywhere in a frame. */
export function isUnsafeKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

/**
 * Throws `NESTING_TOO_DEEP` if arrays and objects nest deeper than `maxDepth` (`value` itself at
 * `depth`), or `UNSAFE_KEY` if an object has an unsafe key.
 */
export function checkValue(value: object, depth: number, maxDepth: number): void {
  if (depth > maxDepth) throw new NestingTooDeepError(maxDepth);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'object' && item !== null) checkValue(item, depth + 1, maxDepth);
    }
    return;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (isUnsafeKey(key)) throw new UnsafeKeyError(key);
    const item = record[key];
    if (typeof item === 'object' && item !== null) checkValue(item, depth + 1, maxDepth);
  }
}
