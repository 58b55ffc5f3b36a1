import { describe, expect, it } from 'vitest';
import { type Logger, type LogLevel, startDynamicSupervisor, startSupervisor } from '../../src/index.js';
import { child, crash, refs, testSystem } from './support.js';

/** A logger that records which levels it was called at; `enabled` answers isLevelEnabled, if given. */
function recording(enabled?: (level: LogLevel) => boolean): { logger: Logger; calls: { level: LogLevel; msg: string | undefined }[] } {
  const calls: { level: LogLevel; msg: string | undefined }[] = [];
  const at = (level: LogLevel) => (_obj: object, msg?: string) => void calls.push({ level, msg });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  if (enabled !== undefined) logger.isLevelEnabled = enabled;
  return { logger, calls };
}

describe('supervisor reports and the logger level', () => {
  it('reports at levels the logger does not enable are not built or handed over; the others are', async () => {
    const { logger, calls } = recording((level) => level === 'warn' || level === 'error');
    const { system } = testSystem({ logger });
    const sup = await startSupervisor(system, { strategy: 'one-for-one', children: [child('a')] });
    const dyn = await startDynamicSupervisor(system, { child: { start: child('d').start } });
    await dyn.startChild();
    await crash(system, (await refs(sup)).a);
    expect(calls.filter((c) => (c.level === 'debug' || c.level === 'info') && c.msg?.startsWith('supervisor:') === true)).toEqual([]);
    expect(calls.map((c) => c.msg)).toContain('supervisor: child terminated: Error: boom');
  });

  it('a logger without isLevelEnabled gets every report, as before', async () => {
    const { logger, calls } = recording();
    const { system } = testSystem({ logger });
    const sup = await startSupervisor(system, { strategy: 'one-for-one', children: [child('a')] });
    await crash(system, (await refs(sup)).a);
    const msgs = calls.map((c) => `${c.level} ${c.msg}`);
    expect(msgs).toContain('debug supervisor: child started');
    expect(msgs).toContain('info supervisor: child restarted');
    expect(msgs).toContain('error supervisor: child terminated: Error: boom');
  });
});
