/**
 * What `beamstate serve <module>` serves: the entity definitions a module exports (every export
 * that is an entity type, or an `entities` array export when there is one), and optional
 * `authenticate` / `authorize` hooks. TypeScript modules load through tsx when Node cannot load
 * them itself.
 */
import { createRequire } from 'node:module';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EntityType } from '../entities/definition.js';
import type { Authenticate, Authorize } from './auth.js';

/** What a served module provides. */
export interface ServedModule {
  readonly types: readonly EntityType[];
  readonly authenticate?: Authenticate<unknown>;
  readonly authorize?: Authorize<unknown>;
}

/** A usage error of the CLI: printed without a stack. @internal */
export class CliError extends Error {}

const TS = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** Imports `file` (relative to the working directory) and collects what it serves. */
export async function loadServedModule(file: string): Promise<ServedModule> {
  const url = pathToFileURL(resolve(file)).href;
  let exports: Record<string, unknown>;
  try {
    exports = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && (err as Error).message.includes(resolve(file))) throw new CliError(`cannot find module ${file}`);
    if (code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !TS.has(extname(file))) throw err;
    exports = await importTypeScript(url);
  }
  return collect(exports, file);
}

type TsxApi = { register(): unknown };

/**
 * tsx as the project has it: found from the working directory first (where `npm install tsx` put
 * it, also in layouts that do not hoist it beside beamstate), then from beamstate's own folder.
 */
async function loadTsx(): Promise<TsxApi> {
  try {
    // Resolved, not required: tsx's CommonJS build of this API cannot register its ESM loader.
    const cjs = createRequire(join(process.cwd(), 'package.json')).resolve('tsx/esm/api');
    return (await import(pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href)) as TsxApi;
  } catch {
    try {
      return (await import('tsx/esm/api')) as TsxApi;
    } catch {
      throw new CliError('serving a TypeScript module needs tsx in the project (npm install --save-dev tsx), or compile it to JavaScript first');
    }
  }
}

async function importTypeScript(url: string): Promise<Record<string, unknown>> {
  const tsx = await loadTsx();
  // Registered for the whole process, not scoped (tsImport): the module must share this
  // process's module instances, or its definitions would be of another copy of beamstate.
  tsx.register();
  // Node remembers the failed import of this URL: import it again under another one. Only the
  // entry's URL differs; what it imports resolves as usual.
  return (await import(`${url}?beamstate-serve`)) as Record<string, unknown>;
}

/** An entity definition, recognised by shape so that a module built against another copy of beamstate is still found. */
function isEntityType(value: unknown): value is EntityType {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { kind?: unknown; name?: unknown; commands?: unknown };
  return (v.kind === 'event-sourced' || v.kind === 'value' || v.kind === 'stateless') && typeof v.name === 'string' && v.commands instanceof Map;
}

function collect(exports: Record<string, unknown>, file: string): ServedModule {
  let types: EntityType[];
  const listed = exports.entities;
  if (listed !== undefined) {
    if (!Array.isArray(listed) || !listed.every(isEntityType)) throw new CliError(`${file}: the \`entities\` export must be an array of entity definitions`);
    types = listed;
  } else {
    types = Object.values(exports).filter(isEntityType);
  }
  types = [...new Set(types)];
  if (types.length === 0) {
    throw new CliError(`${file} exports no entity definitions: export them (eventSourcedEntity, valueEntity, statelessFunction), or an \`entities\` array`);
  }
  const out: { types: EntityType[]; authenticate?: Authenticate<unknown>; authorize?: Authorize<unknown> } = { types };
  if (typeof exports.authenticate === 'function') out.authenticate = exports.authenticate as Authenticate<unknown>;
  if (typeof exports.authorize === 'function') out.authorize = exports.authorize as Authorize<unknown>;
  return out;
}
