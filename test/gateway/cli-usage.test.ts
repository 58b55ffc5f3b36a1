// `beamstate` as a user meets it before anything is served: help, version, mistakes in the command
// line, a port in use and a store that cannot open are each answered in one line, without a stack,
// and before the store opens (no PGlite folder is created for a server that cannot listen).
import { execFile, spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { onCleanup } from './support.js';

const execFileP = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'src', 'gateway', 'cli.ts');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function beamstate(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  const e = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  try {
    const { stdout, stderr } = await execFileP(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env: e, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e2 = err as { code: number; stdout: string; stderr: string };
    return { code: e2.code, stdout: e2.stdout, stderr: e2.stderr };
  }
}

/** One line on stderr, `beamstate: …`, and no stack frames. */
function expectOneLine(out: Outcome, message: RegExp): void {
  expect(out.code).toBe(1);
  expect(out.stderr).toMatch(/^beamstate: [^\n]*\n$/);
  expect(out.stderr).toMatch(message);
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'beamstate-cli-usage-'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const exists = (path: string): Promise<boolean> => access(path).then(
  () => true,
  () => false,
);

describe('the beamstate command line', () => {
  it('-h and --help print the usage on stdout with 0, for the command and for serve', async () => {
    for (const args of [['-h'], ['--help'], ['serve', '-h'], ['serve', '--help']]) {
      const out = await beamstate(args);
      expect(out.code).toBe(0);
      expect(out.stdout).toMatch(/^usage: beamstate serve <module> \[options\]/);
      expect(out.stdout).toContain('--version');
      expect(out.stderr).toBe('');
    }
  });

  it('--version prints the package version, alone on a line', async () => {
    const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['--version'], ['serve', '--version']]) {
      const out = await beamstate(args);
      expect(out).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });

  it('an unknown option, a missing value, a missing module and an unknown command are one line each', async () => {
    expectOneLine(await beamstate(['serve', 'examples/shopping-cart.ts', '--prot', '9000']), /unknown option --prot .*--help/);
    expectOneLine(await beamstate(['--verbose']), /unknown option --verbose/);
    expectOneLine(await beamstate(['serve', 'examples/shopping-cart.ts', '--port']), /--port needs a value/);
    expectOneLine(await beamstate(['serve']), /serve needs a module/);
    expectOneLine(await beamstate(['serve', 'a.ts', 'b.ts']), /serve takes one module, got 2: a\.ts b\.ts/);
    expectOneLine(await beamstate(['launch']), /unknown command "launch"/);
    expectOneLine(await beamstate(['serve', 'examples/shopping-cart.ts', '--database', 'x', '--data-dir', 'y']), /--database or --data-dir, not both/);
  });

  it('a port in use is told in one line before the store opens: no PGlite folder is created', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise((resolve) => busy.close(resolve)));
    const port = (busy.address() as { port: number }).port;
    const data = join(await tempDir(), 'never-created');
    const out = await beamstate(['serve', 'examples/shopping-cart.ts', '--port', String(port), '--data-dir', data]);
    expectOneLine(out, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use`));
    expect(await exists(data)).toBe(false);
  });

  it('DATABASE_URL is the store when neither --database nor --data-dir is given; an unreachable one is one line', async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const out = await beamstate(['serve', 'examples/shopping-cart.ts', '--port', '0'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
    expectOneLine(out, /cannot open the store: \w+/);
    expect(out.stderr).not.toContain('postgres@'); // the URL's credentials are not echoed
    expectOneLine(await beamstate(['serve', 'examples/shopping-cart.ts', '--port', '0'], { DATABASE_URL: 'mysql://x' }), /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/);
  });

  it('--data-dir chooses PGlite even when DATABASE_URL is set, and the listening line says which store', async () => {
    const data = join(await tempDir(), 'pglite');
    const served = await listenOnce(['serve', 'examples/shopping-cart.ts', '--port', '0', '--data-dir', data], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
    expect(served.line).toMatch(/store: pglite .*pglite\)$/);
    expect(served.code).toBe(0);
    expect(await exists(data)).toBe(true);
  });

  it.skipIf(process.env.DATABASE_URL === undefined)('serves on DATABASE_URL when it is set and no store option is given', async () => {
    const served = await listenOnce(['serve', 'examples/shopping-cart.ts', '--port', '0'], {});
    expect(served.line).toMatch(/store: postgres 127\.0\.0\.1:5432 \(DATABASE_URL\)\)$/);
    expect(served.code).toBe(0);
  });
});

/** Starts the CLI, waits for its listening line, stops it with SIGTERM: the line and the exit code. */
function listenOnce(args: string[], env: NodeJS.ProcessEnv): Promise<{ line: string; code: number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  let listened = false;
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /^beamstate listening on .*$/m.exec(stdout);
      if (m === null || listened) return;
      listened = true;
      child.kill('SIGTERM');
      void exited.then((code) => resolve({ line: m[0], code }));
    });
    void exited.then((code) => {
      if (!listened) reject(new Error(`exited with ${code} before listening: ${stderr}`));
    });
  });
}

