// Where a benchmark's latency tail comes from, measured over one run in the process under test:
// event-loop delay (perf_hooks monitorEventLoopDelay: how long a ready callback waited for the
// loop), GC pauses (PerformanceObserver 'gc' entries), group-commit batches (sizes and how long
// each took to commit, through the journal's batch observer) and CPU: this process's, the
// PostgreSQL backends serving it (read from /proc), and the whole machine's (to see what the
// other tenants of a shared machine took).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type pg from 'pg';
import { observeBatches } from '../src/persistence/group-commit.js';
import { LatencyHistogram } from './_open-loop.js';

export interface ProcessStats {
  readonly seconds: number;
  /** Event-loop delay, ms (sampled every 1 ms: a callback ready at a random moment waits this long). */
  readonly loopDelayP50Ms: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  readonly gcCount: number;
  /** Sum of GC pauses, ms, and that as a share of the wall time. */
  readonly gcTotalMs: number;
  readonly gcShare: number;
  readonly gcMaxMs: number;
  /** Mark-sweep (major) collections and the longest one, ms. */
  readonly gcMajorCount: number;
  readonly gcMajorMaxMs: number;
  /** Group-commit batches committed in the window (0 on stores without group commit). */
  readonly batches: number;
  readonly batchAppendsMean: number;
  readonly batchAppendsMax: number;
  /** Time from a batch's start to its commit's answer, ms, per append (a batch of n counts n times: what an append waits). */
  readonly commitP50Ms: number;
  readonly commitP99Ms: number;
  readonly commitMaxMs: number;
  /** Batches running (including the one reported) when a batch finished, mean. */
  readonly batchesInFlightMean: number;
  /** CPU of this process, as a fraction of one core. */
  readonly cpuCores: number;
  /** CPU of the PostgreSQL backends serving this run, as a fraction of one core (NaN if unknown). */
  readonly postgresCores: number;
  /** CPU of the whole machine (every process, every tenant), in cores. */
  readonly machineCores: number;
}

const TICKS_PER_S = 100; // USER_HZ: /proc reports CPU time in these on Linux

/** utime + stime of a process, seconds (NaN when it is gone or /proc is unreadable). */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, so cut at its closing parenthesis).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

/** Busy CPU seconds of the whole machine, all cores (user + nice + system + irq + softirq + steal). */
function machineCpuSeconds(): number {
  try {
    const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    return (user + nice + system + irq + softirq + steal) / TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

/**
 * The PostgreSQL backends whose application_name is `name` (set it in the store's connection
 * string: `?application_name=…`), read through `admin`.
 */
export async function backendPids(admin: pg.Client, name: string): Promise<number[]> {
  const r = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [name]);
  return r.rows.map((row) => row.pid);
}

export interface Watch {
  /** Ends the window and returns what was measured in it. */
  stop(): ProcessStats;
}

/**
 * Starts measuring this process. `postgresPids`: the backends to charge PostgreSQL CPU to
 * (read at start; a backend that appears later is not counted).
 */
export function watchProcess(postgresPids: readonly number[] = []): Watch {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let gcCount = 0;
  let gcTotal = 0;
  let gcMax = 0;
  let majorCount = 0;
  let majorMax = 0;
  const count = (e: PerformanceEntry): void => {
    gcCount++;
    gcTotal += e.duration;
    if (e.duration > gcMax) gcMax = e.duration;
    // NODE_PERFORMANCE_GC_MAJOR = 4 (mark-sweep-compact).
    if (((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind === 4) {
      majorCount++;
      if (e.duration > majorMax) majorMax = e.duration;
    }
  };
  const gcObserver = new PerformanceObserver((list) => list.getEntries().forEach(count));
  gcObserver.observe({ entryTypes: ['gc'] });
  const commit = new LatencyHistogram();
  let batches = 0;
  let appends = 0;
  let appendsMax = 0;
  let inFlightSum = 0;
  observeBatches((n, _events, ms, inFlight) => {
    batches++;
    appends += n;
    if (n > appendsMax) appendsMax = n;
    inFlightSum += inFlight;
    commit.record(ms, n);
  });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const pg0 = postgresPids.map(processCpuSeconds);
  const machine0 = machineCpuSeconds();
  return {
    stop(): ProcessStats {
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      // A backend gone since the start (the pool closed it) is left out: it no longer has a /proc entry.
      const pgSeconds = postgresPids.reduce((sum, pid, i) => {
        const d = processCpuSeconds(pid) - (pg0[i] as number);
        return Number.isNaN(d) ? sum : sum + d;
      }, 0);
      const machine = machineCpuSeconds() - machine0;
      observeBatches(undefined);
      // Deliver the GC entries still buffered before reading the counts.
      gcObserver.takeRecords().forEach(count);
      gcObserver.disconnect();
      loop.disable();
      const c = commit.summary();
      return {
        seconds,
        loopDelayP50Ms: loop.percentile(50) / 1e6,
        loopDelayP99Ms: loop.percentile(99) / 1e6,
        loopDelayMaxMs: loop.max / 1e6,
        gcCount,
        gcTotalMs: gcTotal,
        gcShare: gcTotal / (seconds * 1000),
        gcMaxMs: gcMax,
        gcMajorCount: majorCount,
        gcMajorMaxMs: majorMax,
        batches,
        batchAppendsMean: batches === 0 ? 0 : appends / batches,
        batchAppendsMax: appendsMax,
        commitP50Ms: c.p50,
        commitP99Ms: c.p99,
        commitMaxMs: c.max,
        batchesInFlightMean: batches === 0 ? 0 : inFlightSum / batches,
        cpuCores: (cpu.user + cpu.system) / 1e6 / seconds,
        postgresCores: postgresPids.length === 0 ? Number.NaN : pgSeconds / seconds,
        machineCores: machine / seconds,
      };
    },
  };
}

/** One line for a log. */
export function describeStats(s: ProcessStats): string {
  const f = (n: number | null): string => (n === null || Number.isNaN(n) ? '–' : n < 10 ? n.toFixed(2) : n.toFixed(1));
  return (
    `loop delay p99 ${f(s.loopDelayP99Ms)} ms, max ${f(s.loopDelayMaxMs)}; ` +
    `gc ${s.gcCount}× ${f(s.gcTotalMs)} ms (${f(100 * s.gcShare)} %), max ${f(s.gcMaxMs)} (major ${s.gcMajorCount}×, max ${f(s.gcMajorMaxMs)}); ` +
    (s.batches > 0
      ? `batches ${s.batches}, ${f(s.batchAppendsMean)} appends mean, ${s.batchAppendsMax} max, ${f(s.batchesInFlightMean)} in flight; commit p50 ${f(s.commitP50Ms)} ms, p99 ${f(s.commitP99Ms)}, max ${f(s.commitMaxMs)}; `
      : '') +
    `cpu: server ${f(s.cpuCores)} cores, postgres ${f(s.postgresCores)}, machine ${f(s.machineCores)} of ${availableParallelism()}`
  );
}
