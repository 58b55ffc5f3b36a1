// `npm run bench -- <area>`: runs bench/<area>.ts. Each area measures its own baseline in the same
// run and prints `{"bench":"<area>","metrics":{...}}` as its last line.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const areas = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();

const area = process.argv[2];
if (area === undefined || !areas.includes(area)) {
  console.error(`usage: npm run bench -- <area>\nareas: ${areas.join(', ')}`);
  process.exit(2);
}
await import(pathToFileURL(join(here, `${area}.ts`)).href);
