// Compiles examples/*.ts into dist/examples/ (JavaScript and declarations) for the package, so
// that someone who installed beamstate can run them without tsx:
//   npx beamstate serve node_modules/beamstate/dist/examples/shopping-cart.js
// In the repository the examples import '../src/…'; in the package that is '../…' (dist/ mirrors
// src/), so each example uses the package's own modules: the definitions it exports are of the
// same beamstate as the CLI that serves them. Run by `npm run build`, after tsc.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'examples');
const sources = (await readdir(join(root, 'examples'))).filter((f) => f.endsWith('.ts')).map((f) => join(root, 'examples', f));

const parsed = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) });
const options = { ...parsed.options, rootDir: root, outDir: join(root, '.examples-out'), noEmit: false, declaration: true };
const program = ts.createProgram(sources, options);
const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file !== undefined && sources.includes(d.file.fileName));
if (diagnostics.length > 0) fail(diagnostics);

/** `from '../src/x.js'` and `import("../src/x.js")` become '../x.js'. Nothing else of src/ is reachable. */
const relink = (text) => text.replace(/(["'])\.\.\/src\//g, '$1../');

await mkdir(out, { recursive: true });
const written = [];
for (const file of sources) {
  // Emit this example only (the modules it imports are dist/ already).
  const result = program.emit(program.getSourceFile(file), (name, text) => {
    written.push(writeFile(join(out, relative(join(options.outDir, 'examples'), name)), relink(text)));
  });
  if (result.emitSkipped) fail(result.diagnostics);
}
await Promise.all(written);

function fail(diags) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
  process.stderr.write(ts.formatDiagnostics(diags, host));
  process.exit(1);
}
