// A second language behind the proxy: examples/python-counter, a Kalix user function in Python
// with no Kalix SDK (only Debian's python3-grpcio and python3-protobuf), driven through the
// beamstate gateway client, then recovered from the journal after proxy and user function restart.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor.js';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';
import { startGrpcFront } from '../../src/proxy/index.js';
import { serviceClient } from './grpc-client.js';
import { SDK_DIR } from './sdk-setup.js';
import { onCleanup, startHarness, testStore, uniqueId } from './support.js';

const PYTHON = '/usr/bin/python3'; // Debian's packages are for Debian's Python (not a pyenv one on PATH)
const COUNTER = fileURLToPath(new URL('../../examples/python-counter/counter.py', import.meta.url));
const PROTOCOL = fileURLToPath(new URL('../../src/proxy/protocol/', import.meta.url));
const ANNOTATIONS = `${SDK_DIR}/proto`; // kalix/annotations.proto (entity_key)
const EXAMPLE = fileURLToPath(new URL('../../examples/python-counter/', import.meta.url));

/** Why the Python user function cannot run here, or null. */
function pythonUnavailable(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} is not installed`;
  if (!existsSync('/usr/bin/protoc')) return 'protoc is not installed (apt-get install protobuf-compiler)';
  if (!existsSync(`${ANNOTATIONS}/kalix/annotations.proto`)) return `kalix/annotations.proto is not in ${ANNOTATIONS}`;
  try {
    execFileSync(PYTHON, ['-c', 'import grpc, grpc.aio, google.protobuf'], { stdio: 'pipe' });
  } catch {
    return `${PYTHON} cannot import grpc and google.protobuf (apt-get install python3-grpcio python3-protobuf; .ci/run does)`;
  }
  return null;
}

const unavailable = pythonUnavailable();
if (unavailable !== null) console.warn(`skipping the Python user function test: ${unavailable}`);

interface PythonUserFunction {
  readonly address: string;
  readonly port: number;
  readonly output: () => string;
  kill(): Promise<void>;
}

/** Starts examples/python-counter/counter.py on a free port; resolves once it listens. */
async function startPythonCounter(snapshotEvery: number, port = 0): Promise<PythonUserFunction> {
  const child: ChildProcess = spawn(PYTHON, [COUNTER, '--port', String(port), '--snapshot-every', String(snapshotEvery), '--proto-path', PROTOCOL, '--proto-path', ANNOTATIONS], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  onCleanup(kill);
  const bound = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`the Python counter exited (${code}) before listening: ${out}`)));
  });
  return { address: `127.0.0.1:${bound}`, port: bound, output: () => out, kill };
}

describe.skipIf(unavailable !== null)('a Python user function (no Kalix SDK) behind the proxy', () => {
  it('counts through the gateway client, refuses bad input with its own text, and recovers from snapshot + tail after both restart', async () => {
    const store = await testStore();
    let uf = await startPythonCounter(3);
    let h = await startHarness(uf.address, store);
    expect(h.proxy.discovered.serviceInfo).toMatchObject({ serviceName: 'python-counter', protocolMajorVersion: 1, serviceRuntime: expect.stringMatching(/^Python 3\./) });
    expect(h.proxy.entityTypeOf('com.example.counter.CounterService')).toBe('counter');
    let client = await connect(h.url);
    onCleanup(() => client.close());
    const id = uniqueId('counter');
    let counter = client.ref('counter', id);

    expect(await counter.ask('GetCurrentCounter', { counterId: id })).toEqual({});
    for (const value of [3, 4, 10]) expect(await counter.ask('Increase', { counterId: id, value })).toEqual({});
    expect(await counter.ask('Decrease', { counterId: id, value: 2 })).toEqual({});
    expect(await counter.ask('GetCurrentCounter', { counterId: id })).toEqual({ value: 15 });
    await expect(counter.ask('Increase', { counterId: id, value: -1 })).rejects.toMatchObject({ code: 'COMMAND_FAILED', message: 'Increase requires a positive value. It was [-1].' });
    await expect(counter.ask('Increase', { counterId: id, value: 'many' })).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
    expect(await counter.ask('Increase', { counterId: id, value: 1 })).toEqual({});
    // Every command of the entity went over one stream: it stayed in step with the journal.
    expect(h.proxy.streamsOpened).toBe(1);

    // The journal: 5 events (the refused commands persisted nothing) and the Python function's
    // snapshot after the 3rd, appended with it.
    const journal = await store.journal.read(`counter|${id}`);
    expect(journal.map((e) => e.type)).toEqual(['KalixEvent', 'KalixEvent', 'KalixEvent', 'KalixSnapshot', 'KalixEvent', 'KalixEvent']);
    expect(journal.map((e) => (e.payload as { typeUrl: string }).typeUrl)).toEqual([
      'type.googleapis.com/com.example.counter.domain.ValueIncreased',
      'type.googleapis.com/com.example.counter.domain.ValueIncreased',
      'type.googleapis.com/com.example.counter.domain.ValueIncreased',
      'type.googleapis.com/com.example.counter.domain.CounterState',
      'type.googleapis.com/com.example.counter.domain.ValueDecreased',
      'type.googleapis.com/com.example.counter.domain.ValueIncreased',
    ]);

    // Restart both: nothing is left in either memory, the state comes back from snapshot + tail.
    await client.close();
    await h.stop();
    await uf.kill();
    uf = await startPythonCounter(3);
    h = await startHarness(uf.address, store);
    client = await connect(h.url);
    onCleanup(() => client.close());
    counter = client.ref('counter', id);
    expect(await counter.ask('GetCurrentCounter', { counterId: id })).toEqual({ value: 16 });
    expect(await counter.ask('Increase', { counterId: id, value: 4 })).toEqual({});
    expect(await counter.ask('GetCurrentCounter', { counterId: id })).toEqual({ value: 20 });
    // Other counters are their own entities.
    const other = client.ref('counter', uniqueId('counter'));
    expect(await other.ask('Increase', { counterId: 'x', value: 7 })).toEqual({});
    expect(await other.ask('GetCurrentCounter', { counterId: 'x' })).toEqual({ value: 7 });
    expect(uf.output()).toContain('discovered by beamstate-proxy');
  });

  it("over the gRPC front: a gRPC client of the counter's own service, routed by counter_id, reaches the same entities; a refused command keeps the Python function's status", async () => {
    const store = await testStore();
    const uf = await startPythonCounter(3);
    const h = await startHarness(uf.address, store);
    const front = await startGrpcFront({ proxy: h.proxy, runtime: h.runtime });
    onCleanup(() => front.close());
    // The client is built from the example's own protos (what a user's generated client knows), not from the proxy's.
    const grpcClient = serviceClient(counterApi(), 'com.example.counter.CounterService', front.address);
    onCleanup(() => grpcClient.close());
    const [a, b] = [uniqueId('counter'), uniqueId('counter')];
    expect(await grpcClient.call('Increase', { counterId: a, value: 5 })).toEqual({});
    expect(await grpcClient.call('Increase', { counterId: b, value: 1 })).toEqual({});
    expect(await grpcClient.call('Decrease', { counterId: a, value: 2 })).toEqual({});
    expect(await grpcClient.call('GetCurrentCounter', { counterId: a })).toEqual({ value: 3 });
    expect(await grpcClient.call('GetCurrentCounter', { counterId: b })).toEqual({ value: 1 });
    await expect(grpcClient.call('Decrease', { counterId: a, value: -4 })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: 'Decrease requires a positive value. It was [-4].' });
    // The gateway's entity `a` is the gRPC front's.
    const client = await connect(h.url);
    onCleanup(() => client.close());
    expect(await client.ref('counter', a).ask('GetCurrentCounter', {})).toEqual({ value: 3 });
  });

  it('kill -9 of the Python process under load: what failed failed with a clear code, no acknowledged increment is lost, and the counters recover when it returns', async () => {
    const store = await testStore();
    let uf = await startPythonCounter(4);
    // Restarts back off up to 50 ms, so that the retries of a crashed command fit in an ask's timeout.
    const h = await startHarness(uf.address, store, { settings: { backoff: { minMs: 5, maxMs: 50 } } });
    const ids = [uniqueId('counter'), uniqueId('counter'), uniqueId('counter')];
    const acked = new Map(ids.map((id) => [id, 0]));
    const errors = new Set<string>();
    let killed = false;
    // Three writers, one increment at a time each; the Python process is killed after 12 acks.
    await Promise.all(
      ids.map(async (id) => {
        const counter = h.runtime.refFor('counter', id);
        for (let i = 0; i < 10; i++) {
          try {
            await counter.ask('Increase', { counterId: id, value: 1 });
            acked.set(id, (acked.get(id) ?? 0) + 1);
          } catch (err) {
            errors.add((err as { code: string }).code);
          }
          if (!killed && [...acked.values()].reduce((a, b) => a + b) >= 12) {
            killed = true;
            await uf.kill();
          }
        }
      }),
    );
    expect(killed).toBe(true);
    expect(errors.size).toBeGreaterThan(0);
    // Retried on a fresh stream, then given up: the codes say the user function was not there.
    for (const code of errors) expect(['POISON_COMMAND', 'USER_FUNCTION_UNAVAILABLE']).toContain(code);
    uf = await startPythonCounter(4, uf.port);
    for (const id of ids) {
      const counter = h.runtime.refFor('counter', id);
      let reply: unknown;
      for (let attempt = 0; attempt < 50 && reply === undefined; attempt++) reply = await counter.ask('GetCurrentCounter', { counterId: id }).catch(() => undefined);
      // Exactly the acknowledged increments: a failed command persisted nothing.
      const value = acked.get(id) ?? 0;
      expect(reply).toEqual(value === 0 ? {} : { value });
    }
  });

  it('property: any sequence of increases and decreases (some refused) gives the model\'s value, and the same value from the journal after a restart', async () => {
    const store = await testStore();
    let uf = await startPythonCounter(3);
    let h = await startHarness(uf.address, store);
    const expected = new Map<string, number>();
    const command = fc.record({ op: fc.constantFrom('Increase', 'Decrease'), value: fc.integer({ min: -3, max: 20 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 12 }), async (commands) => {
        const id = uniqueId('prop');
        const counter = h.runtime.refFor('counter', id);
        let model = 0;
        for (const c of commands) {
          const reply = await counter.ask(c.op, { counterId: id, value: c.value }).then(
            () => 'ok',
            (err: { code: string }) => err.code,
          );
          // The Python function refuses a negative value (COMMAND_FAILED) and persists nothing for it.
          expect(reply).toBe(c.value < 0 ? 'COMMAND_FAILED' : 'ok');
          if (c.value >= 0) model += c.op === 'Increase' ? c.value : -c.value;
        }
        expect(await counter.ask('GetCurrentCounter', { counterId: id })).toEqual(model === 0 ? {} : { value: model });
        expected.set(id, model);
      }),
      { numRuns: 15 },
    );
    // Every counter again, from snapshot + tail, with nothing left in either process's memory.
    await h.stop();
    await uf.kill();
    uf = await startPythonCounter(3);
    h = await startHarness(uf.address, store);
    for (const [id, model] of expected) {
      expect(await h.runtime.refFor('counter', id).ask('GetCurrentCounter', { counterId: id })).toEqual(model === 0 ? {} : { value: model });
    }
  });
});

/** The example's API as a protobufjs root, compiled here with protoc from its .proto files. */
function counterApi(): protobuf.Root {
  const out = join(mkdtempSync(join(tmpdir(), 'python-counter-')), 'api.desc');
  execFileSync('/usr/bin/protoc', ['--include_imports', `--descriptor_set_out=${out}`, `-I${EXAMPLE}`, `-I${ANNOTATIONS}`, '-I/usr/include', 'counter_api.proto'], { stdio: 'pipe' });
  const root = (protobuf.Root as unknown as { fromDescriptor(b: Uint8Array): protobuf.Root }).fromDescriptor(readFileSync(out));
  root.resolveAll();
  return root;
}
