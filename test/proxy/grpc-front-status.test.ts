// The gRPC front's status table (grpc-status.ts) as properties: what a user function chose is
// kept, "none" is UNKNOWN, a poison command answers as its last crash, internals never leak.
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommandFailedError, EntityConflictError, InvalidCommandError, PersistFailedError, PoisonCommandError, UnknownCommandError } from '../../src/entities/errors.js';
import { BeamstateError } from '../../src/errors.js';
import { AppendOutcomeUnknownError, StoreUnavailableError } from '../../src/persistence/errors.js';
import { MalformedMessageError, ProxyProtocolError, UserFunctionFailedError, UserFunctionUnavailableError } from '../../src/proxy/errors.js';
import { GRPC_STATUS_OF_CODE, grpcFailureOf, grpcStatusOf } from '../../src/proxy/grpc-status.js';

const chosen = fc.integer({ min: 1, max: 16 });
const notChosen = fc.oneof(fc.integer().filter((n) => n < 1 || n > 16), fc.constant(undefined), fc.string(), fc.double());

/** Errors the runtime and the proxy raise, with the status each must get. */
const errors: fc.Arbitrary<{ err: Error; expected: status }> = fc.oneof(
  chosen.map((s) => ({ err: new CommandFailedError('f', { grpcStatusCode: s }), expected: s as status })),
  notChosen.map((s) => ({ err: new CommandFailedError('f', { grpcStatusCode: s }), expected: status.UNKNOWN })),
  chosen.map((s) => ({ err: new UserFunctionFailedError('threw', s), expected: s as status })),
  fc.constant({ err: new UserFunctionFailedError('threw', 0), expected: status.UNKNOWN }),
  fc.constant({ err: new CommandFailedError('no forward', { code: 'UNSUPPORTED_EFFECT' }), expected: status.UNIMPLEMENTED }),
  fc.constant({ err: new CommandFailedError('streams', { code: 'UNSUPPORTED_CALL' }), expected: status.UNIMPLEMENTED }),
  fc.constant({ err: new UserFunctionUnavailableError('down'), expected: status.UNAVAILABLE }),
  fc.constant({ err: new ProxyProtocolError('wrong id'), expected: status.INTERNAL }),
  fc.constant({ err: new InvalidCommandError('t', 'c', [{ message: 'bad', path: [] }]), expected: status.INVALID_ARGUMENT }),
  fc.constant({ err: new MalformedMessageError('bytes'), expected: status.INVALID_ARGUMENT }),
  fc.constant({ err: new UnknownCommandError('t', 'c'), expected: status.UNIMPLEMENTED }),
  fc.constant({ err: new EntityConflictError('t', 'i', new Error('x')), expected: status.ABORTED }),
  fc.constant({ err: new PersistFailedError('t', 'i', new StoreUnavailableError('db down')), expected: status.UNAVAILABLE }),
  fc.constant({ err: new PersistFailedError('t', 'i', new AppendOutcomeUnknownError('t|i')), expected: status.UNKNOWN }),
);

describe('the gRPC status of a failure', () => {
  it("keeps the user function's status (1–16) and answers UNKNOWN when it gave none, as the Kalix protocol says", () => {
    fc.assert(
      fc.property(errors, ({ err, expected }) => {
        expect(grpcStatusOf(err)).toBe(expected);
      }),
    );
  });

  it('a poison command answers as its last crash, however deeply wrapped', () => {
    fc.assert(
      fc.property(errors, fc.integer({ min: 1, max: 3 }), ({ err, expected }, depth) => {
        let wrapped: Error = err;
        for (let i = 0; i < depth; i++) wrapped = new PoisonCommandError('t', 'i', 'c', 3, wrapped);
        expect(grpcStatusOf(wrapped)).toBe(expected);
      }),
    );
    expect(grpcStatusOf(new PoisonCommandError('t', 'i', 'c', 3, undefined))).toBe(status.UNKNOWN);
  });

  it('every code in the table is answered with its status, its message and the code; a code not in it is INTERNAL', () => {
    for (const [code, s] of Object.entries(GRPC_STATUS_OF_CODE)) {
      expect(grpcFailureOf(new BeamstateError(code, `m ${code}`))).toEqual({ code: s, details: `m ${code}`, beamstateCode: code });
    }
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((c) => !Object.hasOwn(GRPC_STATUS_OF_CODE, c) && !['COMMAND_FAILED', 'USER_FUNCTION_FAILED', 'POISON_COMMAND', 'PERSIST_FAILED'].includes(c)),
        (code) => {
          expect(grpcStatusOf(new BeamstateError(code, 'x'))).toBe(status.INTERNAL);
        },
      ),
    );
  });

  it('anything that is not a beamstate error is INTERNAL with no details (nothing of the server leaks)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.constant(undefined), fc.string().map((m) => new TypeError(m)), fc.string().map((m) => Object.assign(new Error(m), { code: 'ECONNRESET' }))), (thrown) => {
        expect(grpcFailureOf(thrown)).toEqual({ code: status.INTERNAL, details: 'internal error', beamstateCode: 'INTERNAL_ERROR' });
      }),
    );
  });
});
