// The client must load in a browser: nothing it imports statically may need Node (`node:*`) or a
// package (msgpackr and ws are imported on demand, and only when needed).
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

/** Static imports and re-exports that exist at run time (not `import type`/`export type`, not of types only). */
function runtimeImports(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/^(?:import|export)\s+(type\s+)?([\s\S]*?)\s+from\s+'([^']+)';/gm)) {
    if (m[1] !== undefined) continue;
    const clause = m[2] as string;
    const named = /^\{([\s\S]*)\}$/.exec(clause.trim());
    if (named !== null && (named[1] as string).split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '))) continue;
    out.push(m[3] as string);
  }
  for (const m of source.matchAll(/^import\s+'([^']+)';/gm)) out.push(m[1] as string);
  return out;
}

describe('the client in a browser', () => {
  it('statically imports only browser-safe modules of this package', async () => {
    const seen = new Set<string>();
    const outside: string[] = [];
    const walk = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = await readFile(file, 'utf8');
      for (const spec of runtimeImports(source)) {
        if (spec.startsWith('.')) await walk(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
        else outside.push(`${file.slice(src.length)} imports ${spec}`);
      }
    };
    await walk(join(src, 'client.ts'));
    expect(outside).toEqual([]);
    expect([...seen].map((f) => f.slice(src.length)).sort()).toContain('client/codec.ts');
    // And the server side does import Node (the walk would notice it).
    expect(runtimeImports(await readFile(join(src, 'gateway', 'server.ts'), 'utf8'))).toContain('node:http');
  });
});
