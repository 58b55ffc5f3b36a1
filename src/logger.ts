/**
 * A logger shaped like pino's, so a pino instance can be passed as is. beamstate calls it at
 * every decision point with a structured object first and a short message second; formatting is
 * the logger's business.
 *
 * The default ({@link defaultLogger}) writes warnings and errors to stderr, one JSON line per
 * record as pino does, so that crashes, supervisor reports and give-ups are seen without any
 * set-up (OTP prints them by default too). {@link silentLogger} discards everything.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  /**
   * Whether a record at `level` would be written (pino has it too). Optional: beamstate uses it
   * to skip building records nobody would see, and assumes `true` without it.
   */
  isLevelEnabled?(level: LogLevel): boolean;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** pino's numbers for its levels: what the `level` of a written line holds. */
export const logLevelValues: Readonly<Record<LogLevel, number>> = { debug: 20, info: 30, warn: 40, error: 50 };

export interface LoggerOptions {
  /** The lowest level written; `'silent'` writes nothing. Default `'warn'`. */
  readonly level?: LogLevel | 'silent';
  /** Where the lines go (each ends with a newline). Default `process.stderr`. */
  readonly destination?: { write(line: string): unknown };
}

const noop = (): void => {};

// Resolved at each write, not at import: the module is loaded in places without a `process`.
const stderr = {
  write(line: string): void {
    (globalThis as { process?: { stderr?: { write(s: string): unknown } } }).process?.stderr?.write(line);
  },
};

const pid = (): number | undefined => (globalThis as { process?: { pid?: number } }).process?.pid;

/** A logger that discards everything: pass it as `logger` to silence beamstate. */
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
  isLevelEnabled: () => false,
};

/**
 * A logger writing one JSON line per record, in pino's format: `level` (pino's number: 20 debug,
 * 30 info, 40 warn, 50 error), `time` (epoch ms), `pid`, the child bindings, the record's fields,
 * and `msg`. An `Error` anywhere in a record is written as `{ type, message, stack, code?, cause?,
 * …its own fields }`; cycles as `"[Circular]"`, bigints as strings. Writing never throws. Pipe the
 * output through `pino-pretty` to read it as text.
 *
 * `createLogger({ level: 'silent' })` is {@link silentLogger}.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'warn';
  if (level === 'silent') return silentLogger;
  const min = logLevelValues[level];
  if (min === undefined) throw new RangeError(`logger level must be 'debug', 'info', 'warn', 'error' or 'silent', got ${String(level)}`);
  return new JsonLogger(min, options.destination ?? stderr, '');
}

class JsonLogger implements Logger {
  constructor(
    private readonly min: number,
    private readonly destination: { write(line: string): unknown },
    /** The child bindings, already serialized as `,"key":value` members. */
    private readonly bound: string,
  ) {}

  debug(obj: object, msg?: string): void {
    if (this.min <= 20) this.write(20, obj, msg);
  }
  info(obj: object, msg?: string): void {
    if (this.min <= 30) this.write(30, obj, msg);
  }
  warn(obj: object, msg?: string): void {
    if (this.min <= 40) this.write(40, obj, msg);
  }
  error(obj: object, msg?: string): void {
    if (this.min <= 50) this.write(50, obj, msg);
  }

  child(bindings: Record<string, unknown>): Logger {
    return new JsonLogger(this.min, this.destination, this.bound + members(bindings));
  }

  isLevelEnabled(level: LogLevel): boolean {
    return logLevelValues[level] >= this.min;
  }

  private write(level: number, obj: object, msg: string | undefined): void {
    try {
      const message = msg ?? (typeof (obj as { msg?: unknown }).msg === 'string' ? (obj as { msg: string }).msg : undefined);
      const head = `{"level":${level},"time":${Date.now()}${pidMember()}${this.bound}`;
      this.destination.write(`${head}${members(obj)}${message === undefined ? '' : `,"msg":${JSON.stringify(message)}`}}\n`);
    } catch (err) {
      // A field that cannot be written (a throwing getter, say) must not turn a log call into a
      // crash: say so in a line of its own.
      try {
        this.destination.write(`{"level":${level},"time":${Date.now()},"msg":${JSON.stringify(String(msg))},"logError":${JSON.stringify(String(err))}}\n`);
      } catch {
        // Nowhere left to report it.
      }
    }
  }
}

function pidMember(): string {
  const p = pid();
  return p === undefined ? '' : `,"pid":${p}`;
}

/** Reserved by the line itself: a record's field of the same name is left out. */
const RESERVED = new Set(['level', 'time', 'pid', 'msg']);

/** `obj`'s fields as JSON object members, each preceded by a comma. */
function members(obj: object): string {
  let out = '';
  const ancestors: object[] = [obj];
  for (const key of Object.keys(obj)) {
    if (RESERVED.has(key)) continue;
    const value = toLoggable((obj as Record<string, unknown>)[key], ancestors, 1);
    if (value === undefined) continue;
    out += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
  }
  return out;
}

const MAX_DEPTH = 10;

/** A JSON-safe copy of `value`: errors spelled out, cycles and excess depth marked, bigints as text. */
function toLoggable(value: unknown, ancestors: object[], depth: number): unknown {
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'symbol':
      return value.toString();
    case 'function':
    case 'undefined':
      return undefined;
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (ancestors.includes(value)) return '[Circular]';
  if (depth > MAX_DEPTH) return '[Object]';
  ancestors.push(value);
  try {
    if (value instanceof Error) return errorToLoggable(value, ancestors, depth);
    if (ArrayBuffer.isView(value)) return `[${value.constructor.name} ${value.byteLength} bytes]`;
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return toLoggable((toJSON as () => unknown).call(value), ancestors, depth + 1);
    if (Array.isArray(value)) return value.map((v) => toLoggable(v, ancestors, depth + 1) ?? null);
    if (value instanceof Map) return toLoggable(Object.fromEntries(value), ancestors, depth + 1);
    if (value instanceof Set) return toLoggable([...value], ancestors, depth + 1);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const v = toLoggable((value as Record<string, unknown>)[key], ancestors, depth + 1);
      if (v !== undefined) out[key] = v;
    }
    return out;
  } finally {
    ancestors.pop();
  }
}

/** pino's error serializer, in spirit: the type, message and stack, the code, the cause, and the error's own fields. */
function errorToLoggable(err: Error, ancestors: object[], depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.constructor?.name ?? err.name, message: err.message, stack: err.stack };
  for (const key of Object.keys(err)) {
    if (key in out) continue;
    const v = toLoggable((err as unknown as Record<string, unknown>)[key], ancestors, depth + 1);
    if (v !== undefined) out[key] = v;
  }
  // `code` and `cause` are often non-enumerable (or inherited getters): fetch them explicitly.
  const code = (err as { code?: unknown }).code;
  if (code !== undefined && out.code === undefined) out.code = toLoggable(code, ancestors, depth + 1);
  if (err.cause !== undefined && out.cause === undefined) out.cause = toLoggable(err.cause, ancestors, depth + 1);
  return out;
}

/** The logger used where none is given: warnings and errors to stderr (see {@link createLogger}). */
export const defaultLogger: Logger = createLogger();
