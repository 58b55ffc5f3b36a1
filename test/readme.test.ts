// The README's TypeScript examples are run as written (importing 'beamstate' from this checkout),
// so the front door never shows code that does not work.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

describe('README', () => {
  it('its TypeScript example runs and prints what its comment says', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks.length).toBeGreaterThan(0);
    const example = blocks[0] as string;
    const dir = await mkdtemp(join(root, 'scratch-readme-'));
    try {
      const file = join(dir, 'example.ts');
      await writeFile(file, example.replaceAll("from 'beamstate'", `from '${join(root, 'src', 'index.ts')}'`));
      const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { cwd: root, timeout: 30_000 });
      const expected = /console\.log\(.*\); \/\/ ([^,\s]+)/.exec(example)?.[1];
      expect(expected).toBeDefined();
      expect(stdout.trim()).toBe(expected);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
