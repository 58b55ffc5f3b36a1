// The CLI as `npm install` ships it (`bin`: dist/gateway/cli.js), compiled, without tsx on the
// command line: it serves a JavaScript module as is, and a TypeScript one through tsx's API.
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';
import { onCleanup } from './support.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
let out = '';

beforeAll(async () => {
  // Compiled into a folder of its own (not dist/, which the packaging test rebuilds meanwhile),
  // inside the repository so that the dependencies resolve from its node_modules.
  out = await mkdtemp(join(root, '.scratch-gateway-build-'));
  await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(out, 'dist')], { cwd: root });
  await writeFile(join(out, 'package.json'), JSON.stringify({ name: 'beamstate', version: '0.0.0-test', type: 'module', private: true }));
}, 120_000);

afterAll(async () => {
  if (out !== '') await rm(out, { recursive: true, force: true });
});

async function serveWith(module: string): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [join(out, 'dist', 'gateway', 'cli.js'), 'serve', module, '--port', '0', '--data-dir', join(out, 'data', module)], { cwd: out, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (ws:\/\/\S+)/.exec(stdout);
      if (m !== null) resolve(m[1] as string);
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('the compiled CLI', () => {
  it('is the package’s bin and starts with a shebang', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin.beamstate).toBe('./dist/gateway/cli.js');
    expect((await readFile(join(out, 'dist', 'gateway', 'cli.js'), 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it.each([
    ['entities.mjs', ''],
    ['entities.ts', ': { n: number }'],
  ])('serves %s', async (file, annotation) => {
    await writeFile(
      join(out, file),
      `import { statelessFunction } from './dist/index.js';
export const echo = statelessFunction('echo').command('say', (_input${annotation === '' ? '' : ': undefined'}, ctx) => ctx.reply('built'));
const n${annotation} = { n: 1 };
export default n;
`,
    );
    const served = await serveWith(file);
    const client = await connect(served.url, { reconnect: false, heartbeatMs: false });
    expect(await client.ask('echo', 'x', 'say')).toBe('built');
    await client.close();
    expect(await served.stop()).toBe(0);
  });

  it('stops cleanly when the npx that started it gets SIGTERM (npm does not pass it on)', async () => {
    // An app with beamstate installed: its bin linked where npm links it.
    const app = join(out, 'app');
    await mkdir(join(app, 'node_modules', '.bin'), { recursive: true });
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await symlink(join(out, 'dist', 'gateway', 'cli.js'), join(app, 'node_modules', '.bin', 'beamstate'));
    await chmod(join(out, 'dist', 'gateway', 'cli.js'), 0o755); // npm makes a package's bins executable when it installs them
    await writeFile(join(out, 'npx-entities.mjs'), `import { statelessFunction } from './dist/index.js';\nexport const echo = statelessFunction('echo').command('say', (_i, ctx) => ctx.reply('npx'));\n`);
    const npx = spawn('npx', ['beamstate', 'serve', join(out, 'npx-entities.mjs'), '--port', '0', '--data-dir', join(out, 'data', 'npx')], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    onCleanup(() => {
      if (npx.exitCode === null && npx.signalCode === null) npx.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    // The server inherits npx's stderr: the pipe closes only once the server has exited too.
    const stderrClosed = new Promise<void>((resolve) => npx.stderr.once('close', () => resolve()));
    npx.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      npx.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /listening on (ws:\/\/\S+)/.exec(stdout);
        if (m !== null) resolve(m[1] as string);
      });
      npx.once('exit', (code) => reject(new Error(`npx exited with ${code}: ${stderr}`)));
    });
    const client = await connect(url, { reconnect: false, heartbeatMs: false });
    expect(await client.ask('echo', 'x', 'say')).toBe('npx');
    await client.close();
    npx.kill('SIGTERM'); // npx alone, as a process manager or `kill <pid>` would
    await stderrClosed;
    expect(stderr).toContain('the npm process that started it is gone, shutting down');
    expect(stderr).toContain('beamstate: stopped');
    const after = await connect(url, { reconnect: false, heartbeatMs: false }).then(
      async (c) => {
        await c.close();
        return 'connected';
      },
      (e: { code?: string }) => e.code,
    );
    expect(after).toBe('CONNECT_FAILED');
  }, 60_000);
});
