// The library as users get it: `npm pack`, installed into a scratch project, imported from plain
// ESM and typechecked from TypeScript against the shipped declarations. A library that only
// works from its own src/ is not a library.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
let project = '';
let packedFiles: string[] = [];

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'beamstate-consumer-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', project], { cwd: root, maxBuffer: 16 << 20 });
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
  packedFiles = info.files.map((f) => f.path);
  const installed = join(project, 'node_modules', 'beamstate');
  await mkdir(installed, { recursive: true });
  await run('tar', ['-xzf', join(project, info.filename), '-C', installed, '--strip-components=1']);
  // Dependencies come from this checkout's node_modules (no network needed), linked the way a
  // package manager would install them beside the package.
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  // Only the runtime dependencies and @types/node (which any Node TypeScript project has): the
  // shipped declarations must not need the library's own dev dependencies (@types/pg, @types/ws…).
  for (const dep of [...Object.keys(pkg.dependencies), '@types/node']) {
    const target = join(project, 'node_modules', dep);
    await mkdir(dirname(target), { recursive: true });
    await symlink(join(root, 'node_modules', dep), target, 'dir');
  }
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
}, 180_000);

afterAll(async () => {
  if (project !== '') await rm(project, { recursive: true, force: true });
});

describe('the packed library', () => {
  it('ships the build, its types and the docs, and not the sources of tests or benchmarks', () => {
    expect(packedFiles).toContain('dist/index.js');
    expect(packedFiles).toContain('dist/index.d.ts');
    expect(packedFiles).toContain('dist/client.js');
    expect(packedFiles).toContain('dist/client.d.ts');
    expect(packedFiles).toContain('README.md');
    expect(packedFiles).toContain('package.json');
    expect(packedFiles.some((f) => f.startsWith('test/') || f.startsWith('bench/') || f.startsWith('src/'))).toBe(false);
  });

  it('is a package a user can trust: LICENSE, where it lives, no source maps, no @internal declarations', async () => {
    expect(packedFiles).toContain('LICENSE');
    expect(await readFile(join(root, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.license).toBe('Apache-2.0');
    expect(pkg.repository).toMatchObject({ type: 'git', url: expect.stringMatching(/^git\+https:\/\//) });
    expect(pkg.homepage).toMatch(/^https:\/\//);
    expect(pkg.bugs).toMatchObject({ url: expect.stringMatching(/^https:\/\//) });
    // Source maps would point at src/, which is not shipped.
    expect(packedFiles.filter((f) => f.endsWith('.map'))).toEqual([]);
    // stripInternal: what the sources mark @internal is not in the shipped declarations.
    const declarations = packedFiles.filter((f) => f.endsWith('.d.ts'));
    expect(declarations.length).toBeGreaterThan(20);
    for (const f of declarations) expect(await readFile(join(project, 'node_modules', 'beamstate', f), 'utf8'), f).not.toContain('@internal');
  });

  it('ships the examples compiled, so that an installed beamstate can serve them without tsx', async () => {
    expect(packedFiles).toContain('dist/examples/shopping-cart.js');
    expect(packedFiles).toContain('dist/examples/shopping-cart.d.ts');
    await writeFile(
      join(project, 'examples.mjs'),
      `import { shoppingCart } from 'beamstate/examples/shopping-cart';
import { EntityRuntime, createActorSystem, createStore } from 'beamstate';
const system = createActorSystem();
const store = await createStore({ kind: 'memory' });
const runtime = new EntityRuntime(system, { store });
runtime.register(shoppingCart);
const cart = runtime.ref(shoppingCart, 'c1');
await cart.ask('addItem', { sku: 'tea', name: 'Tea', quantity: 1 });
console.log(JSON.stringify(await cart.ask('getCart')));
await system.stop();
await store.close();
`,
    );
    const { stdout } = await run(process.execPath, ['examples.mjs'], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({ items: [{ sku: 'tea', name: 'Tea', quantity: 1 }], checkedOut: false });
  });

  it('works from plain ESM', async () => {
    await writeFile(
      join(project, 'consumer.mjs'),
      `import { createActorSystem, isBeamstateError } from 'beamstate';
import { connect, RemoteError } from 'beamstate/client';
if (typeof connect !== 'function' || typeof RemoteError !== 'function') throw new Error('beamstate/client is incomplete');
const system = createActorSystem();
const ref = system.spawn({ init: () => 40, receive(n, m, ctx) { ctx.reply(n + m); return n; } });
const answer = await ref.ask(2);
await system.stop();
const err = await ref.ask(1).catch((e) => e);
console.log(JSON.stringify({ answer, dead: isBeamstateError(err, 'NOPROC') }));
`,
    );
    const { stdout } = await run(process.execPath, ['consumer.mjs'], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({ answer: 42, dead: true });
  });

  it('typechecks a strict TypeScript consumer against the shipped types, and rejects a wrong one', async () => {
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          verbatimModuleSyntax: true,
          lib: ['ES2023', 'ESNext.Disposable', 'DOM'],
          types: ['node'],
          noEmit: true,
        },
        include: ['consumer.ts'],
      }),
    );
    const good = `import { createActorSystem, type Behavior, type ActorRef } from 'beamstate';
type Msg = { type: 'add'; n: number } | { type: 'get' };
const counter: Behavior<Msg, number, number> = {
  init: () => 0,
  receive(n, msg, ctx) {
    if (msg.type === 'add') return n + msg.n;
    ctx.reply(n);
    return n;
  },
};
await using system = createActorSystem();
const ref: ActorRef<Msg, number> = system.spawn(counter);
const total: number = await ref.ask({ type: 'get' });
console.log(total);
`;
    await writeFile(join(project, 'consumer.ts'), good);
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', project]);
    // The types are real: a message of the wrong shape is a compile error.
    await writeFile(join(project, 'consumer.ts'), good.replace("ref.ask({ type: 'get' })", "ref.ask({ type: 'mul' })"));
    const failed = await run(process.execPath, [tsc, '-p', project]).then(
      () => '',
      (e: { stdout: string }) => e.stdout,
    );
    expect(failed).toMatch(/consumer\.ts.*error TS/);
  }, 120_000); // two runs of tsc; on a loaded 2-core machine each can take tens of seconds
});
