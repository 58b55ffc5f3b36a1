// Shared helpers for benchmarks: timing, percentiles, GC, and the final JSON line.

export function now(): number {
  return performance.now();
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run benchmarks with --expose-gc (npm run bench does)');
  for (let i = 0; i < 3; i++) g();
}

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Human-readable progress goes to stderr; the last stdout line is the machine-readable result. */
export function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

export function report(bench: string, metrics: Record<string, number>): void {
  process.stdout.write(`${JSON.stringify({ bench, metrics })}\n`);
}
