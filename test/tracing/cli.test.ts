// `beamstate serve --tracing`: spans go to the provider the process registered globally (here a
// preloaded script that writes them to a file), with the client's traceparent as their parent.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/client.js';
import { onCleanup } from '../gateway/support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'src/gateway/cli.ts');
const setup = fileURLToPath(new URL('./fixtures/otel-global.mjs', import.meta.url));

describe('beamstate serve --tracing', () => {
  it('records a command\'s spans with the global provider, under the client\'s traceparent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beamstate-otel-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const spansFile = join(dir, 'spans.jsonl');
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', setup, cli, 'serve', 'examples/shopping-cart.ts', '--port', '0', '--data-dir', join(dir, 'data'), '--tracing'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BEAMSTATE_TEST_SPANS: spansFile, DATABASE_URL: '' },
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    onCleanup(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /beamstate listening on (ws:\/\/\S+)/.exec(out);
        if (m !== null) resolve(m[1] as string);
      });
      void exited.then((code) => reject(new Error(`exited with ${code}; stderr: ${stderr}`)));
    });
    const client = await connect(url, { heartbeatMs: false });
    onCleanup(() => client.close());
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await client.ask('cart', 'c1', 'addItem', { sku: 'tea', name: 'Tea', quantity: 1 }, { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, timeout: 20_000 });
    const spans = (await readFile(spansFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; spanId: string; traceId: string; parent: string | null });
    const server = spans.find((s) => s.name === 'beamstate.gateway.command');
    expect(server).toMatchObject({ traceId, parent: '00f067aa0ba902b7' });
    expect(spans.filter((s) => s.parent === server?.spanId).map((s) => s.name)).toEqual(['beamstate.entity.handle', 'beamstate.journal.commit', 'beamstate.gateway.reply']);
  }, 60_000);
});
