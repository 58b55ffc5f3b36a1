// Issue 13 item 11: PGlite in a folder never called fsync (PostgreSQL runs with -F, Emscripten's
// NODEFS has no fsync and ignores fdatasync), so a resolved append survived kill -9 but not an
// OS crash. The evidence is the system calls: under strace, every append's WAL write must be
// followed by an fsync of the WAL before the append resolves (the fixture writes "ACK <n>" to
// /dev/null right after each append resolves); with durability 'process' there is none.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore, STORE_DEFAULTS } from '../../src/persistence/index.js';

const script = fileURLToPath(new URL('./fixtures/pglite-folder-process.ts', import.meta.url));
const strace = spawnSync('strace', ['-f', '-qq', '-e', 'trace=none', 'true']);
const straceWorks = strace.status === 0;
if (!straceWorks) console.warn(`skipping the fsync trace tests: strace is missing or cannot trace here (${strace.error?.message ?? strace.stderr.toString().trim()})`);

interface Segment {
  /** The append this segment ends with (the n of "ACK n"). */
  readonly ack: number;
  readonly calls: string[];
}

/** Traces the fixture appending `count` events and cuts the trace at each ACK marker. */
function traceAppends(dataDir: string, count: number, durability: string): Segment[] {
  const out = join(dataDir, '..', `trace-${durability}.txt`);
  execFileSync(
    'strace',
    ['-f', '-y', '-qq', '-s', '16', '-e', 'trace=fsync,fdatasync,write,pwrite64,pwritev,writev', '-o', out, process.execPath, '--import', 'tsx', script, 'trace', dataDir, 'acct-1', String(count), durability],
    { stdio: 'ignore', timeout: 180_000 },
  );
  const segments: Segment[] = [];
  let calls: string[] = [];
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const ack = /write\(\d+<\/dev\/null>, "ACK (\d+)"/.exec(line);
    if (ack !== null) {
      segments.push({ ack: Number(ack[1]), calls });
      calls = [];
    } else if (line !== '') {
      calls.push(line);
    }
  }
  return segments;
}

const isWalWrite = (call: string): boolean => /\b(p?writev?|pwrite64)\(\d+<[^>]*\/pg_wal\/[0-9A-F]{24}>/.test(call);
const isWalSync = (call: string): boolean => /\b(fsync|fdatasync)\(\d+<[^>]*\/pg_wal\/[0-9A-F]{24}>/.test(call);
const isSync = (call: string): boolean => /\b(fsync|fdatasync)\(/.test(call);

describe('PGlite in a folder and fsync', () => {
  const root = mkdtempSync(join(tmpdir(), 'beamstate-durability-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('defaults to fsync', () => {
    expect(STORE_DEFAULTS.durability).toBe('fsync');
  });

  it.skipIf(!straceWorks)('every append fsyncs the WAL after writing it and before it resolves (the default)', () => {
    const segments = traceAppends(join(root, 'fsync'), 10, 'fsync');
    expect(segments.map((s) => s.ack)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const { ack, calls } of segments) {
      const lastWalWrite = calls.findLastIndex(isWalWrite);
      expect(lastWalWrite, `append ${ack} wrote the WAL`).toBeGreaterThanOrEqual(0);
      expect(calls.slice(lastWalWrite + 1).some(isWalSync), `append ${ack}: fsync of the WAL after its last WAL write, before it resolved`).toBe(true);
    }
  }, 240_000);

  it.skipIf(!straceWorks)("with durability 'process' an append writes the WAL and fsyncs nothing (the documented opt-out)", () => {
    const segments = traceAppends(join(root, 'process'), 10, 'process');
    expect(segments.map((s) => s.ack)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const { ack, calls } of segments.slice(1)) {
      expect(calls.some(isWalWrite), `append ${ack} wrote the WAL`).toBe(true);
      expect(calls.filter(isSync), `append ${ack}`).toEqual([]);
    }
  }, 240_000);

  it('rejects an unknown durability', async () => {
    await expect(createStore({ kind: 'pglite', dataDir: join(root, 'bad'), durability: 'sometimes' as 'fsync' })).rejects.toMatchObject({
      code: 'PERSISTENCE_INVALID_ARGUMENT',
      field: 'options.durability',
    });
  });
});
