// Bundles the observer's page (Preact, uPlot and the page's own code) into observer.js and
// observer.css, served by the observer from the `assets` folder beside its module: nothing is
// fetched at run time. `node src/observer/page/build.mjs [outdir]`; default src/observer/assets
// (for running from source), `npm run build:observer` writes dist/observer/assets.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] ?? join(here, '..', 'assets'));

export async function buildObserverPage(dir = outdir) {
  await build({
    entryPoints: { observer: join(here, 'main.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: false,
    legalComments: 'eof',
    outdir: dir,
    logLevel: 'warning',
  });
  return dir;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildObserverPage();
  console.log(`observer page built in ${outdir}`);
}
