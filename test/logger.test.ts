import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLogger, defaultLogger, type Logger, type LogLevel, logLevelValues, silentLogger } from '../src/index.js';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/crash-under-supervisor.ts', import.meta.url));

async function crashProgram(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', 'tsx', fixture, ...args], { timeout: 30_000 });
}

type Line = Record<string, unknown> & { level: number; time: number; msg: string };

function lines(text: string): Line[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

/** A logger at `level` writing into an array. */
function capture(level: LogLevel = 'debug'): { logger: Logger; out: Line[] } {
  const out: Line[] = [];
  const logger = createLogger({ level, destination: { write: (line: string) => out.push(JSON.parse(line) as Line) } });
  return { logger, out };
}

describe('the default logger', () => {
  it('writes crashes, supervisor reports and the give-up to stderr, one JSON line each, with no set-up', async () => {
    const started = Date.now();
    const { stdout, stderr } = await crashProgram();
    expect(stdout.trim()).toBe('done');
    const written = lines(stderr);
    // Warnings and errors only: the restart (info) and child starts (debug) are not written.
    expect(written.every((l) => l.level >= logLevelValues.warn)).toBe(true);
    const crashes = written.filter((l) => l.msg === 'actor crashed');
    expect(crashes).toHaveLength(2);
    expect(crashes[0]).toMatchObject({
      level: 50,
      system: 'beamstate',
      reason: { type: 'Error', message: 'the worker crashed on purpose', code: 'DELIBERATE', stack: expect.stringContaining('crash-under-supervisor.ts') },
    });
    const reports = written.filter((l) => l.label === 'supervisor_report');
    expect(reports.map((r) => r.errorContext)).toEqual(['child_terminated', 'child_terminated', 'shutdown']);
    expect(reports[0]).toMatchObject({ level: 50, offender: { id: 'worker' }, err: { message: 'the worker crashed on purpose', code: 'DELIBERATE' } });
    expect(reports[2]).toMatchObject({ reason: 'reached_max_restart_intensity', msg: expect.stringContaining('reached maximum restart intensity') });
    for (const l of written) {
      expect(l.time).toBeGreaterThanOrEqual(started);
      expect(l.time).toBeLessThanOrEqual(Date.now());
      expect(typeof l.pid).toBe('number');
    }
  });

  it('with silentLogger, the same program writes nothing', async () => {
    const { stdout, stderr } = await crashProgram('silent');
    expect(stdout.trim()).toBe('done');
    expect(stderr).toBe('');
  });

  it('is a warn-level logger: debug and info are not enabled', () => {
    expect(defaultLogger.isLevelEnabled?.('debug')).toBe(false);
    expect(defaultLogger.isLevelEnabled?.('info')).toBe(false);
    expect(defaultLogger.isLevelEnabled?.('warn')).toBe(true);
    expect(defaultLogger.child({ a: 1 }).isLevelEnabled?.('error')).toBe(true);
  });
});

describe('createLogger', () => {
  it("writes pino's line: level number, time, pid, child bindings, the record's fields, msg", () => {
    const { logger, out } = capture('debug');
    const before = Date.now();
    logger.child({ system: 's' }).child({ component: 'c' }).info({ n: 1, nested: { ok: true } }, 'hello');
    expect(out).toHaveLength(1);
    expect(out[0]).toEqual({ level: 30, time: expect.any(Number), pid: process.pid, system: 's', component: 'c', n: 1, nested: { ok: true }, msg: 'hello' });
    expect(out[0]?.time).toBeGreaterThanOrEqual(before);
  });

  it('writes only records at or above its level', () => {
    const { logger, out } = capture('warn');
    logger.debug({}, 'd');
    logger.info({}, 'i');
    logger.warn({}, 'w');
    logger.error({}, 'e');
    expect(out.map((l) => [l.level, l.msg])).toEqual([
      [40, 'w'],
      [50, 'e'],
    ]);
  });

  it("'silent' is silentLogger, which writes nothing and enables no level", () => {
    expect(createLogger({ level: 'silent' })).toBe(silentLogger);
    expect(silentLogger.child({ a: 1 })).toBe(silentLogger);
    expect(silentLogger.isLevelEnabled?.('error')).toBe(false);
  });

  it('refuses an unknown level at once', () => {
    expect(() => createLogger({ level: 'trace' as never })).toThrow(RangeError);
  });

  it('spells out errors anywhere in a record: type, message, stack, code, cause, own fields', () => {
    const { logger, out } = capture();
    class QuotaError extends Error {
      readonly code = 'OVER_QUOTA';
      readonly limit = 10;
    }
    const err = new QuotaError('too many', { cause: new Error('the root') });
    logger.error({ err, deep: { reasons: [err] } }, 'failed');
    const expected = {
      type: 'QuotaError',
      message: 'too many',
      stack: expect.stringContaining('too many'),
      code: 'OVER_QUOTA',
      limit: 10,
      cause: { type: 'Error', message: 'the root', stack: expect.stringContaining('the root') },
    };
    expect(out[0]?.err).toEqual(expected);
    expect(out[0]?.deep).toEqual({ reasons: [expected] });
  });

  it('writes what JSON cannot hold instead of throwing: cycles, bigints, symbols, binary; a throwing field gives a line of its own', () => {
    const { logger, out } = capture();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    logger.warn({ cyclic, big: 10n ** 20n, sym: Symbol('s'), fn: () => 1, buf: Buffer.from('abc'), when: new Date(0) }, 'odd values');
    expect(out[0]).toMatchObject({
      cyclic: { name: 'loop', self: '[Circular]' },
      big: '100000000000000000000',
      sym: 'Symbol(s)',
      buf: '[Buffer 3 bytes]',
      when: '1970-01-01T00:00:00.000Z',
      msg: 'odd values',
    });
    expect(out[0]).not.toHaveProperty('fn');
    const hostile = {
      get boom(): never {
        throw new Error('getter threw');
      },
    };
    expect(() => logger.error(hostile, 'still written')).not.toThrow();
    expect(out[1]).toMatchObject({ level: 50, msg: 'still written', logError: 'Error: getter threw' });
  });

  it("a record's own level, time, pid or msg field does not overwrite the line's", () => {
    const { logger, out } = capture();
    logger.warn({ level: 'x', time: 'y', pid: 'z', msg: 'm', other: 1 }, 'the message');
    expect(out[0]).toMatchObject({ level: 40, pid: process.pid, msg: 'the message', other: 1 });
    expect(typeof out[0]?.time).toBe('number');
  });
});
