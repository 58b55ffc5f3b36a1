// Without `tracing`, @opentelemetry/api is never loaded: checked in a process of its own, whose
// module resolutions a preloaded hook records. The same process with `tracing: true` shows the
// hook sees the module when it is loaded.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

async function command(tracing: boolean): Promise<{ reply: unknown; modules: string[] }> {
  const args = ['--import', 'tsx', '--import', here('./fixtures/otel-register.mjs'), here('./fixtures/gateway-command.ts')];
  if (tracing) args.push('tracing');
  const { stdout } = await run(process.execPath, args, { timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as { reply: unknown; modules: string[] };
}

describe('tracing off', () => {
  it('a gateway without tracing answers a command with a traceparent and loads no @opentelemetry module; with tracing it loads @opentelemetry/api', async () => {
    const [off, on] = await Promise.all([command(false), command(true)]);
    expect(off.reply).toBe(3);
    expect(off.modules).toEqual([]);
    expect(on.reply).toBe(3);
    expect(on.modules.some((url) => url.includes('/@opentelemetry/api/'))).toBe(true);
  }, 60_000);
});
