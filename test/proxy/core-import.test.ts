// `import 'beamstate'` stays free of gRPC: the proxy's dependencies load only behind
// `beamstate/proxy`. Checked on the module graph esbuild resolves from each entry point.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function graphOf(entry: string): Promise<string[]> {
  const result = await build({ entryPoints: [entry], absWorkingDir: root, bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
  return Object.keys(result.metafile.inputs);
}

const grpcOrProtobuf = (file: string): boolean => /node_modules\/(@grpc\/|protobufjs\/|@kalix-io\/)/.test(file);

describe('the entry points', () => {
  it("the core entry's module graph loads neither @grpc/grpc-js nor protobufjs", async () => {
    const graph = await graphOf('src/index.ts');
    expect(graph.length).toBeGreaterThan(20);
    expect(graph.filter(grpcOrProtobuf)).toEqual([]);
  });

  it('the client entry loads none of them either', async () => {
    expect((await graphOf('src/client.ts')).filter(grpcOrProtobuf)).toEqual([]);
  });

  it('beamstate/proxy does load them (so the check above can see them)', async () => {
    const graph = await graphOf('src/proxy/index.ts');
    expect(graph.some((f) => f.includes('node_modules/@grpc/grpc-js/'))).toBe(true);
    expect(graph.some((f) => f.includes('node_modules/protobufjs/'))).toBe(true);
  });
});
