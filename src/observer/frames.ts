/** Checks what a page sends: anything else is answered with `OBSERVER_BAD_FRAME` and changes nothing. */
import { ObserverBadFrameError } from './errors.js';
import { ACTIONS, type ClientFrame, PROCESS_SORT_KEYS, type ProcessQuery } from './protocol.js';

const MAX_STRING = 512;

export const defaultQuery: ProcessQuery = { search: '', sort: 'id', desc: false, page: 0, pageSize: 50 };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, key: string, optional = false): string | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string') throw new ObserverBadFrameError(`${key} must be a string`);
  if (v.length > MAX_STRING) throw new ObserverBadFrameError(`${key} is longer than ${MAX_STRING}`);
  return v;
}

function int(o: Record<string, unknown>, key: string, min: number, max: number, optional = false): number | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ObserverBadFrameError(`${key} must be an integer from ${min} to ${max}`);
  return v;
}

/** Merges a partial query into `base`, checking every member given. */
export function parseQuery(raw: unknown, base: ProcessQuery): ProcessQuery {
  if (raw === undefined) return base;
  if (!isObject(raw)) throw new ObserverBadFrameError('processes must be an object');
  const sort = raw['sort'];
  if (sort !== undefined && !(PROCESS_SORT_KEYS as readonly unknown[]).includes(sort)) throw new ObserverBadFrameError(`sort must be one of ${PROCESS_SORT_KEYS.join(', ')}`);
  const desc = raw['desc'];
  if (desc !== undefined && typeof desc !== 'boolean') throw new ObserverBadFrameError('desc must be a boolean');
  return {
    search: str(raw, 'search', true) ?? base.search,
    sort: (sort as ProcessQuery['sort'] | undefined) ?? base.sort,
    desc: desc ?? base.desc,
    page: int(raw, 'page', 0, 1_000_000, true) ?? base.page,
    pageSize: int(raw, 'pageSize', 1, 200, true) ?? base.pageSize,
  };
}

/** Parses one text frame; throws {@link ObserverBadFrameError}. `ref` is read first so that the error can be answered to it. */
export function parseFrame(text: string): { frame: ClientFrame; query?: unknown } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ObserverBadFrameError('not JSON');
  }
  if (!isObject(raw)) throw new ObserverBadFrameError('a frame is a JSON object');
  switch (raw['op']) {
    case 'watch':
      return { frame: { op: 'watch' }, query: raw['processes'] };
    case 'process':
      return { frame: { op: 'process', ref: int(raw, 'ref', 0, 2 ** 31) as number, id: int(raw, 'id', 0, Number.MAX_SAFE_INTEGER) as number } };
    case 'entity':
      return { frame: { op: 'entity', ref: int(raw, 'ref', 0, 2 ** 31) as number, type: str(raw, 'type') as string, id: str(raw, 'id') as string } };
    case 'action': {
      const ref = int(raw, 'ref', 0, 2 ** 31) as number;
      const action = raw['action'];
      if (!(ACTIONS as readonly unknown[]).includes(action)) throw new ObserverBadFrameError(`action must be one of ${ACTIONS.join(', ')}`);
      const a = action as (typeof ACTIONS)[number];
      switch (a) {
        case 'kill':
          return { frame: { op: 'action', ref, action: a, actor: int(raw, 'actor', 0, Number.MAX_SAFE_INTEGER) as number } };
        case 'restart-child':
        case 'terminate-child':
          return { frame: { op: 'action', ref, action: a, supervisor: int(raw, 'supervisor', 0, Number.MAX_SAFE_INTEGER) as number, child: str(raw, 'child') as string } };
        case 'passivate':
          return { frame: { op: 'action', ref, action: a, type: str(raw, 'type') as string, id: str(raw, 'id') as string } };
      }
      break;
    }
    default:
      throw new ObserverBadFrameError(`unknown op ${JSON.stringify(String(raw['op'])).slice(0, 64)}`);
  }
  throw new ObserverBadFrameError('unreachable');
}

/** A ref to answer an error to, if the frame had a usable one. */
export function refOf(text: string): number | undefined {
  try {
    const raw: unknown = JSON.parse(text);
    if (isObject(raw) && typeof raw['ref'] === 'number' && Number.isInteger(raw['ref']) && raw['ref'] >= 0 && raw['ref'] <= 2 ** 31) return raw['ref'];
  } catch {
    // not JSON: no ref
  }
  return undefined;
}

/** A value as JSON the page can show: bigints as strings, binary as its length, cycles cut; beyond `maxBytes` a preview. */
export function jsonSafe(value: unknown, maxBytes: number): unknown {
  const seen = new WeakSet<object>();
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return `${v}n`;
      if (typeof v === 'function' || typeof v === 'symbol') return String(v);
      if (v instanceof Uint8Array) return `<${v.byteLength} bytes>`;
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return [...v];
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '<cycle>';
        seen.add(v);
      }
      return v;
    });
  } catch (err) {
    return { unshowable: String(err) };
  }
  if (text === undefined) return null;
  if (text.length > maxBytes) return { truncated: true, bytes: text.length, preview: text.slice(0, maxBytes) };
  return JSON.parse(text) as unknown;
}
