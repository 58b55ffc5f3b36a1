import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

async function runScript(name: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture(name)], { timeout: 20_000 });
  return stdout.trim();
}

describe('process lifetime on the real clock', () => {
  it('an awaited ask keeps the process alive until its timeout', async () => {
    expect(await runScript('ask-timeout-keeps-alive.ts')).toBe('ASK_TIMEOUT');
  });

  it('answered asks do not keep the process alive', async () => {
    expect(await runScript('answered-ask-does-not-linger.ts')).toBe('done');
  });
});
