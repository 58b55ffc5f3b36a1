/**
 * What the default serializer stores faithfully: the values that come back from the store as
 * they went in. msgpackr on its own would store many other values, but not as they were: a
 * function as nil, an object holding one with the function gone, a class instance as a plain
 * object without its prototype, a Map as an object with string keys, a Set as an array, a lone
 * surrogate as replacement characters. An event that replays as something else than what was
 * appended is worse than one refused, so `dataProblem` finds them before anything is encoded.
 *
 * Data is: `null`, `undefined`, booleans, numbers, bigints (64-bit; msgpackr refuses larger
 * ones), strings that are well-formed UTF-16, `Date`s, `Uint8Array`s (a `Buffer` is one), and
 * arrays and plain objects (prototype `Object.prototype` or `null`) of data, without a
 * `__proto__` key (msgpackr renames it on decode). Symbol-keyed and non-enumerable properties
 * are not data (as for `JSON.stringify` and `structuredClone`): they are left out, not refused;
 * looking for them would cost more than the rest of the check.
 *
 * One walk over the value, allocating nothing when it is data; a description of the offence
 * (with its path) is built only on failure.
 */

/** @internal Why `value` is not data the default serializer round-trips, or `undefined` if it is. */
export function dataProblem(value: unknown): string | undefined {
  let found: Found | undefined;
  try {
    found = check(value);
  } catch (err) {
    // The walk's own recursion: a value that refers to itself, or nesting deeper than the stack.
    if (err instanceof RangeError) return 'the value is circular (or nested too deeply to encode)';
    throw err;
  }
  if (found === undefined) return undefined;
  return `${found.path === '' ? 'the value' : `value${found.path}`} is ${found.what}; only data is stored as it is (see "What can be stored" in docs/persistence.md)`;
}

interface Found {
  /** Where, as `.a[2].b` (built on the way out of the recursion). */
  path: string;
  what: string;
}

function check(value: unknown): Found | undefined {
  switch (typeof value) {
    case 'string':
      return isWellFormed(value) ? undefined : { path: '', what: 'a string with a lone surrogate (not well-formed UTF-16)' };
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return undefined;
    case 'function':
      return { path: '', what: 'a function' };
    case 'symbol':
      return { path: '', what: 'a symbol' };
    default:
      return value === null ? undefined : checkObject(value as object);
  }
}

function checkObject(value: object): Found | undefined {
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return { path: '', what: `an instance of ${className(value)} (a subclass of Array)` };
    for (let i = 0; i < value.length; i++) {
      const found = check(value[i]);
      if (found !== undefined) return within(found, `[${i}]`);
    }
    return undefined;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const key in value) {
      // for-in also lists inherited enumerable keys; the encoder skips those too.
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      if (key === '__proto__') return { path: '', what: 'an object with a "__proto__" key (msgpackr renames it on decode)' };
      if (!isWellFormed(key)) return { path: '', what: 'an object with a key that has a lone surrogate (not well-formed UTF-16)' };
      const found = check((value as Record<string, unknown>)[key]);
      if (found !== undefined) return within(found, pathKey(key));
    }
    return undefined;
  }
  if (proto === Uint8Array.prototype || proto === Buffer.prototype || proto === Date.prototype) return undefined;
  return { path: '', what: describeInstance(value) };
}

function within(found: Found, step: string): Found {
  found.path = step + found.path;
  return found;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function pathKey(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function describeInstance(value: object): string {
  if (value instanceof Map) return 'a Map (use a plain object or an array of pairs)';
  if (value instanceof Set) return 'a Set (use an array)';
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `a ${className(value)} (use a Uint8Array)`;
  return `an instance of ${className(value)} (only plain objects and arrays keep their shape; class instances lose their prototype)`;
}

function className(value: object): string {
  const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'a class';
}

// `String.prototype.isWellFormed` is in Node 20 (ES2024); the project's lib is ES2023.
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}
