/**
 * A structural pass over a msgpack frame before it is decoded. msgpackr's decoder is recursive and
 * trusts length prefixes (an `array32` header makes it allocate that many slots), and it decodes
 * extension types into Dates, Errors, RegExps and Sets. This loop, iterative and allocation-free,
 * admits exactly the JSON-like subset of msgpack that `beamstate.v1.msgpack` allows:
 *
 * - nil, booleans, integers, floats, strings, binary, arrays, maps;
 * - map keys are strings, none of them `__proto__`, `constructor` or `prototype`;
 * - arrays and maps nest at most `maxDepth` deep (the frame itself is 1);
 * - every length fits in the frame, and the frame is exactly one value (no trailing bytes).
 *
 * On failure it throws the frame error, carrying the request's `id` if one was read before the
 * problem (top-level key `id`: a string of 1–128 characters or a non-negative safe integer).
 */
import { type FrameError, MalformedFrameError, NestingTooDeepError, UnsafeKeyError } from './errors.js';
import { MAX_ID_LENGTH, type RequestId } from './protocol.js';

const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]; // __proto__
const CONSTRUCTOR = [0x63, 0x6f, 0x6e, 0x73, 0x74, 0x72, 0x75, 0x63, 0x74, 0x6f, 0x72]; // constructor
const PROTOTYPE = [0x70, 0x72, 0x6f, 0x74, 0x6f, 0x74, 0x79, 0x70, 0x65]; // prototype

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reusable stacks, grown to the largest `maxDepth` seen; the scan is synchronous, so one set serves every connection. */
let remaining = new Float64Array(65);
let isMap = new Uint8Array(65);
// The scan's state lives in module variables rather than closures: no allocation per frame.
let buf: Uint8Array = new Uint8Array(0);
let pos = 0;
let sp = 0;
let max = 0;
// Where the top-level `id` value starts (-1: not seen); decoded only if an error needs it.
let idAt = -1;

export function scanMsgpack(b: Uint8Array, maxDepth: number): void {
  if (remaining.length < maxDepth + 1) {
    remaining = new Float64Array(maxDepth + 1);
    isMap = new Uint8Array(maxDepth + 1);
  }
  buf = b;
  max = maxDepth;
  pos = 0;
  sp = 0;
  idAt = -1;
  try {
    scan();
  } finally {
    buf = EMPTY;
  }
}

const EMPTY = new Uint8Array(0);

function fail(err: FrameError): never {
  err.id = idAt >= 0 ? readId(buf, idAt) : null;
  throw err;
}

function need(n: number): void {
  if (pos + n > buf.length) fail(new MalformedFrameError('truncated msgpack frame'));
}

function push(count: number, map: number): void {
  if (sp + 1 > max) fail(new NestingTooDeepError(max));
  sp++;
  remaining[sp] = count;
  isMap[sp] = map;
}

function scan(): void {
  const b = buf;
  // Level 0 is a virtual array holding the one top-level value.
  remaining[0] = 1;
  isMap[0] = 0;
  let nextIsId = false;
  for (;;) {
    while (sp > 0 && remaining[sp] === 0) sp--;
    if (remaining[sp] === 0) break; // sp === 0 and the top-level value is read
    const keyPosition = isMap[sp] === 1 && (remaining[sp] as number) % 2 === 0;
    remaining[sp] = (remaining[sp] as number) - 1;
    need(1);
    const t = b[pos++] as number;
    if (keyPosition) {
      let n: number;
      if (t >= 0xa0 && t <= 0xbf) n = t & 0x1f;
      else if (t === 0xd9) {
        need(1);
        n = b[pos++] as number;
      } else if (t === 0xda) {
        need(2);
        n = ((b[pos] as number) << 8) | (b[pos + 1] as number);
        pos += 2;
      } else if (t === 0xdb) {
        need(4);
        n = readU32(b, pos);
        pos += 4;
      } else return fail(new MalformedFrameError('msgpack map keys must be strings'));
      need(n);
      if (n === 9 && (same(b, pos, PROTO) || same(b, pos, PROTOTYPE))) fail(new UnsafeKeyError(same(b, pos, PROTO) ? '__proto__' : 'prototype'));
      if (n === 11 && same(b, pos, CONSTRUCTOR)) fail(new UnsafeKeyError('constructor'));
      if (sp === 1 && n === 2 && b[pos] === 0x69 && b[pos + 1] === 0x64) nextIsId = true;
      pos += n;
      continue;
    }
    if (nextIsId) {
      idAt = pos - 1;
      nextIsId = false;
    }
    if (t <= 0x7f || t >= 0xe0) continue; // fixints
    if (t <= 0x8f) {
      push((t & 0x0f) * 2, 1);
      continue;
    }
    if (t <= 0x9f) {
      push(t & 0x0f, 0);
      continue;
    }
    if (t <= 0xbf) {
      const n = t & 0x1f;
      need(n);
      pos += n;
      continue;
    }
    switch (t) {
      case 0xc0: // nil
      case 0xc2: // false
      case 0xc3: // true
        break;
      case 0xc4: // bin8
      case 0xd9: {
        // str8
        need(1);
        const n = b[pos++] as number;
        need(n);
        pos += n;
        break;
      }
      case 0xc5: // bin16
      case 0xda: {
        // str16
        need(2);
        const n = ((b[pos] as number) << 8) | (b[pos + 1] as number);
        pos += 2;
        need(n);
        pos += n;
        break;
      }
      case 0xc6: // bin32
      case 0xdb: {
        // str32
        need(4);
        const n = readU32(b, pos);
        pos += 4;
        need(n);
        pos += n;
        break;
      }
      case 0xca: // float32
      case 0xce: // uint32
      case 0xd2: // int32
        need(4);
        pos += 4;
        break;
      case 0xcb: // float64
      case 0xcf: // uint64
      case 0xd3: // int64
        need(8);
        pos += 8;
        break;
      case 0xcc: // uint8
      case 0xd0: // int8
        need(1);
        pos += 1;
        break;
      case 0xcd: // uint16
      case 0xd1: // int16
        need(2);
        pos += 2;
        break;
      case 0xdc: // array16
        need(2);
        push(((b[pos] as number) << 8) | (b[pos + 1] as number), 0);
        pos += 2;
        break;
      case 0xdd: // array32
        need(4);
        push(readU32(b, pos), 0);
        pos += 4;
        break;
      case 0xde: // map16
        need(2);
        push((((b[pos] as number) << 8) | (b[pos + 1] as number)) * 2, 1);
        pos += 2;
        break;
      case 0xdf: // map32
        need(4);
        push(readU32(b, pos) * 2, 1);
        pos += 4;
        break;
      case 0xc1:
        return fail(new MalformedFrameError('0xc1 is not a msgpack type'));
      default:
        // 0xc7–0xc9 ext 8/16/32, 0xd4–0xd8 fixext
        return fail(new MalformedFrameError('msgpack extension types are not part of beamstate.v1'));
    }
  }
  if (pos !== b.length) fail(new MalformedFrameError('trailing bytes after the msgpack value'));
}

function readU32(b: Uint8Array, pos: number): number {
  return (b[pos] as number) * 0x1000000 + (((b[pos + 1] as number) << 16) | ((b[pos + 2] as number) << 8) | (b[pos + 3] as number));
}

function same(b: Uint8Array, pos: number, word: readonly number[]): boolean {
  for (let i = 0; i < word.length; i++) if (b[pos + i] !== word[i]) return false;
  return true;
}

/** The top-level `id` value at `at`, if it is a valid id (and fits in the frame). */
function readId(b: Uint8Array, at: number): RequestId | null {
  const t = b[at];
  if (t === undefined) return null;
  let n = -1;
  let start = at + 1;
  if (t <= 0x7f) return t;
  if (t >= 0xa0 && t <= 0xbf) n = t & 0x1f;
  else if (t === 0xd9 && at + 1 < b.length) {
    n = b[at + 1] as number;
    start = at + 2;
  } else if (t === 0xcc && at + 1 < b.length) return b[at + 1] as number;
  else if (t === 0xcd && at + 2 < b.length) return ((b[at + 1] as number) << 8) | (b[at + 2] as number);
  else if (t === 0xce && at + 4 < b.length) return readU32(b, at + 1);
  else if (t === 0xcf && at + 8 < b.length) {
    const v = readU32(b, at + 1) * 0x100000000 + readU32(b, at + 5);
    return Number.isSafeInteger(v) ? v : null;
  }
  if (n < 1 || n > MAX_ID_LENGTH * 4 || start + n > b.length) return null;
  try {
    const s = utf8.decode(b.subarray(start, start + n));
    return s.length >= 1 && s.length <= MAX_ID_LENGTH ? s : null;
  } catch {
    return null;
  }
}
