// `beamstate serve` as a child process: it says where it listens, serves the module's entities on
// the embedded store, survives a restart with its data, and stops cleanly on SIGTERM / SIGINT.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { connect, type RemoteError } from '../../src/index.js';
import type { shoppingCart } from '../../examples/shopping-cart.js';
import { onCleanup, upgradeOutcome } from './support.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'src', 'gateway', 'cli.ts');

interface Started {
  child: ChildProcess;
  url: string;
  line: string;
  stderr: () => string;
  /** Resolves once every process holding stderr (children included) has closed it. */
  stderrClosed: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a process and waits for its "listening on <url>" line on stdout. */
function start(command: string, args: string[], options: { detached?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<Started> {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false, env: { ...process.env, ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const stderrClosed = new Promise<void>((resolve) => child.stderr?.once('close', () => resolve()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      if (options.detached === true && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
      await exited;
    }
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /^beamstate listening on (ws:\/\/\S+) .*$/m.exec(stdout);
      if (m !== null) resolve({ child, url: m[1] as string, line: m[0], stderr: () => stderr, stderrClosed, exited });
    });
    void exited.then(({ code }) => reject(new Error(`exited with ${code} before listening; stderr: ${stderr}`)));
  });
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'beamstate-cli-'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('beamstate serve', () => {
  it('serves the shopping cart on PGlite, keeps acknowledged commands across a restart, stops on SIGTERM with 0', async () => {
    const data = await tempDir();
    const args = ['--import', 'tsx', cli, 'serve', 'examples/shopping-cart.ts', '--port', '0', '--data-dir', data];
    const first = await start(process.execPath, args);
    expect(first.line).toMatch(/^beamstate listening on ws:\/\/127\.0\.0\.1:\d+\/ \(entities: cart; store: pglite .+\)$/);
    const client = await connect(first.url, { reconnect: false });
    const cart = client.ref<typeof shoppingCart>('cart', 'cli-1');
    await cart.ask('addItem', { sku: 'tea', name: 'Tea', quantity: 2 });
    await cart.ask('addItem', { sku: 'cake', name: 'Cake', quantity: 1 });
    expect(((await cart.ask('removeItem', { sku: 'nope' }).catch((e: unknown) => e)) as RemoteError).code).toBe('COMMAND_FAILED');

    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.stderr()).toContain('beamstate: stopped');
    await until(() => client.status === 'closed');

    const second = await start(process.execPath, args);
    const again = await connect(second.url);
    onCleanup(() => again.close());
    expect(await again.ref<typeof shoppingCart>('cart', 'cli-1').ask('getCart')).toEqual({
      items: [
        { sku: 'tea', name: 'Tea', quantity: 2 },
        { sku: 'cake', name: 'Cake', quantity: 1 },
      ],
      checkedOut: false,
    });
    second.child.kill('SIGINT');
    expect((await second.exited).code).toBe(0);
  });

  it('requires --token when given one', async () => {
    const data = await tempDir();
    const { url } = await start(process.execPath, ['--import', 'tsx', cli, 'serve', 'examples/shopping-cart.ts', '--port', '0', '--data-dir', data, '--token', 's3cret']);
    expect((await upgradeOutcome(url, ['beamstate.v1.json'])).status).toBe(401);
    const client = await connect(url, { token: 's3cret' });
    onCleanup(() => client.close());
    expect((await client.ask('cart', 'x', 'getCart')) as object).toEqual({ items: [], checkedOut: false });
  });

  it('serves an `entities` export, uses its authorize hook, and runs on PostgreSQL with --database', async () => {
    // Inside the repository, so that the module resolves zod from its node_modules.
    const dir = await mkdtemp(join(root, '.scratch-gateway-cli-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const module = join(dir, 'served.ts');
    await writeFile(
      module,
      `import { z } from 'zod';
import { eventSourcedEntity, valueEntity } from ${JSON.stringify(join(root, 'src', 'index.ts'))};
export const hidden = valueEntity('hidden').initialState(() => 0).command('get', (s, _i, ctx) => ctx.reply(s));
const tally = eventSourcedEntity('tally')
  .initialState(() => 0)
  .events<{ type: 'Added'; n: number }>({ Added: (s, e) => s + e.n })
  .command('add', z.object({ n: z.number() }), (_s, { n }, ctx) => ctx.emit({ type: 'Added', n }).thenReply((s) => s));
export const entities = [tally];
export const authorize = (_principal: unknown, request: { action: string; command?: string }) => request.command !== 'forbidden';
`,
    );
    const database = process.env.DATABASE_URL;
    const store = database === undefined ? ['--data-dir', join(dir, 'data')] : ['--database', database];
    const { url, line } = await start(process.execPath, ['--import', 'tsx', cli, 'serve', module, '--port', '0', ...store]);
    expect(line).toContain('(entities: tally;');
    const client = await connect(url);
    onCleanup(() => client.close());
    const id = `t-${Date.now()}`;
    expect(await client.ask('tally', id, 'add', { n: 2 })).toBe(2);
    expect(((await client.ask('hidden', 'x', 'get').catch((e: unknown) => e)) as RemoteError).code).toBe('UNKNOWN_ENTITY_TYPE');
    expect(((await client.ask('tally', id, 'forbidden').catch((e: unknown) => e)) as RemoteError).code).toBe('FORBIDDEN');
  });

  it('exits with 1 and a clear message for a missing module, a module without entities, or bad options', async () => {
    const cases: [string[], RegExp][] = [
      [['serve', 'does-not-exist.ts'], /cannot find module does-not-exist\.ts/],
      [['serve', 'src/logger.ts'], /exports no entity definitions/],
      [['serve', 'examples/shopping-cart.ts', '--port', 'eighty'], /--port must be an integer/],
      [['serve', 'examples/shopping-cart.ts', '--database', 'mysql://x'], /--database must be a postgres/],
      [['launch'], /unknown command "launch"/],
    ];
    for (const [args, message] of cases) {
      const err = (await run(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root }).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(err.code).toBe(1);
      expect(err.stderr).toMatch(message);
      expect(err.stderr).not.toMatch(/\n\s+at /); // no stack trace for a usage error
    }
  });

  it('`npm start` serves the shopping cart, the README client talks to it, and Ctrl-C stops it', async () => {
    const data = await tempDir();
    const served = await start('npm', ['start', '--', '--port', '0', '--data-dir', data], { detached: true });
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const example = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string).find((b) => b.includes('connect('));
    expect(example).toBeDefined();
    // Inside the repository, so that the example runs as an ES module (top-level await), as the README test does.
    const dir = await mkdtemp(join(root, '.scratch-gateway-readme-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'client.ts');
    // Each package entry maps to its source (the package's exports map points into dist/, which
    // a fresh clone has not built).
    const source = (example as string)
      .replaceAll("from 'beamstate/client'", `from ${JSON.stringify(join(root, 'src', 'client.ts'))}`)
      .replaceAll("from 'beamstate'", `from ${JSON.stringify(join(root, 'src', 'index.ts'))}`);
    await writeFile(file, source.replace('ws://127.0.0.1:8080', served.url));
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', file], { cwd: root, timeout: 30_000 });
    const expected = /console\.log\(.*\); \/\/ (\S+)/.exec(example as string)?.[1];
    expect(stdout.trim()).toBe(expected);
    expect(stderr).toContain('ItemAdded');
    // Ctrl-C in a terminal signals the whole foreground process group: npm and the server.
    process.kill(-(served.child.pid as number), 'SIGINT');
    await served.exited;
    await served.stderrClosed; // the server (npm's child) has exited too
    expect(served.stderr()).toContain('beamstate: SIGINT, shutting down');
    expect(served.stderr()).toContain('beamstate: stopped');
    const after = await upgradeOutcome(served.url, ['beamstate.v1.json']).catch((e: NodeJS.ErrnoException) => e.code);
    expect(after).toBe('ECONNREFUSED');
  });
});

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 20_000 && !predicate(); i++) await new Promise((r) => setImmediate(r));
  if (!predicate()) throw new Error('condition never held');
}
