/**
 * Every error beamstate throws is a `BeamstateError`: a stable, documented `code` string that
 * programs can switch on (the message is for humans and may change), and the usual `cause`.
 * The full table of codes lives in `docs/errors.md`.
 */
export class BeamstateError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** True when `err` is a beamstate error, optionally with the given code. */
export function isBeamstateError(err: unknown, code?: string): err is BeamstateError {
  return err instanceof BeamstateError && (code === undefined || err.code === code);
}
