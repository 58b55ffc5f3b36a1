/**
 * Gives the Kalix JavaScript SDK (a dev dependency installed without its postinstall, which would
 * download protoc) Debian's protoc: links /usr/bin/protoc and /usr/include (the well-known types)
 * where its bin/compile-descriptor.js looks, then compiles a fixture's descriptor set with it.
 * .ci/run installs Debian's protobuf-compiler and runs this file; the tests call it too (it is
 * idempotent). `node --import tsx test/proxy/sdk-setup.ts`
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const SDK_DIR = dirname(require.resolve('@kalix-io/kalix-javascript-sdk/package.json'));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Links protoc into the SDK; returns why it cannot (no Debian protoc here), or null when ready. */
export function linkProtoc(): string | null {
  if (!existsSync('/usr/bin/protoc') || !existsSync('/usr/include/google/protobuf/any.proto')) {
    return 'protoc is not installed (apt-get install protobuf-compiler; .ci/run does)';
  }
  const bin = join(SDK_DIR, 'protoc', 'bin');
  mkdirSync(bin, { recursive: true });
  if (!existsSync(join(bin, 'protoc'))) symlinkSync('/usr/bin/protoc', join(bin, 'protoc'));
  if (!existsSync(join(SDK_DIR, 'protoc', 'include'))) symlinkSync('/usr/include', join(SDK_DIR, 'protoc', 'include'));
  return null;
}

/** Compiles `fixture`'s .proto files with the SDK's own compile-descriptor into a fresh temporary file; returns its path. */
export function compileDescriptor(fixture: string): string {
  const dir = join(FIXTURES, fixture);
  const out = join(mkdtempSync(join(tmpdir(), 'beamstate-proxy-')), 'user-function.desc');
  const protos = readdirSync(dir).filter((f) => f.endsWith('.proto'));
  execFileSync(process.execPath, [join(SDK_DIR, 'bin', 'compile-descriptor.js'), `--descriptor_set_out=${out}`, ...protos], { cwd: dir, stdio: 'pipe' });
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const reason = linkProtoc();
  if (reason !== null) {
    console.error(`kalix sdk setup skipped: ${reason}`);
  } else {
    for (const f of readdirSync(FIXTURES)) if (statSync(join(FIXTURES, f)).isDirectory()) console.log(compileDescriptor(f));
  }
}
