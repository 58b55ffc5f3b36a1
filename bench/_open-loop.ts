// Open-loop load: the wrk2 / HdrHistogram method, without coordinated omission.
//
// A closed loop (N requests in flight, each reply sends the next) measures the load generator as
// much as the server: when the server stalls, the generator stops sending, so the requests that
// would have waited are never sent and never measured, and the mean latency is N ÷ throughput
// whatever the server does (Little's law). Here instead:
//
// - Requests are sent on a fixed schedule: request i is due at start + i / rate. Nothing a reply
//   does changes when the next request is sent.
// - Each latency is measured from the request's SCHEDULED send time, not from when it actually
//   left. A request sent late (the generator or the process was stalled) carries the delay in its
//   latency, as a user arriving at that moment would have.
// - Latencies go to a log-linear histogram (below), p50 … p99.9 and max read from it.
// - Requests still unanswered when the drain time runs out are recorded with the time they have
//   waited so far (a lower bound) and counted as `unanswered`: nothing is dropped from the tail.
//
// Saturation (`findSaturation`): the highest offered rate the system sustains. A trial at rate R
// is SUSTAINED when
//   1. achieved ≥ 97 % of offered: the replies that arrived during the measured window, per
//      second of it, are at least 0.97 R (a system that keeps up answers at the rate it is asked);
//   2. the backlog is bounded: requests sent but unanswered at the end of the schedule are at
//      most R × 100 ms, i.e. the queue holds at most a tenth of a second of offered load (past
//      saturation the backlog, and with it the latency, grows for as long as the trial runs);
//   3. latency is not growing: the median latency of the requests scheduled in the window's last
//      quarter is at most twice that of its first quarter, plus 5 ms (a queue that grows all
//      trial long shows here before it reaches the backlog bound; the median, not a high
//      percentile, so that one GC pause does not decide it);
//   4. every request was answered, without errors, within the drain time.
// The search starts at `startRate`, multiplies by `growth` while trials are sustained (divides
// while they are not), then bisects between the highest sustained and the lowest unsustained
// rate until they are within `precision` of each other. The result is the highest sustained rate
// found. Each rate is tried once: on a busy machine one stall can fail a trial, which makes the
// figure conservative, never optimistic.
//
// `atFractions` then runs the measured trials at fractions (50 %, 80 %) of saturation: latency
// there is what a system provisioned with that headroom gives its users.
//
// The runner (`openLoop`) works in-process (a target whose `send` returns a promise) or inside a
// separate load-generator process (the target calls `complete(seq)` when a reply arrives; the
// scheduled time of request `seq` is computed, not stored, so replies need only carry `seq`).

/** Linear sub-buckets per power of two: relative error below 1/128 (< 0.8 %). */
const SUB = 128;
const SUB_BITS = 7;
/** Values are recorded in whole microseconds, exact below 256 µs, up to 2^31 µs (≈ 36 min). */
const MAX_US = 2 ** 31 - 1;
const BUCKETS = (31 - SUB_BITS + 1) * SUB;

function bucketOf(us: number): number {
  if (us < 2 * SUB) return us;
  const shift = 31 - Math.clz32(us) - SUB_BITS;
  return (shift + 1) * SUB + ((us >>> shift) - SUB);
}

/** The highest value (µs) that falls in `bucket` (what HdrHistogram reports for a percentile). */
function highestIn(bucket: number): number {
  if (bucket < 2 * SUB) return bucket;
  const shift = Math.floor(bucket / SUB) - 1;
  const sub = (bucket % SUB) + SUB;
  return ((sub + 1) << shift) - 1;
}

export interface LatencySummary {
  readonly count: number;
  /** Milliseconds. */
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** A log-linear latency histogram (HdrHistogram's layout, 2 significant digits): fixed size, no allocation per value. */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Records a latency in milliseconds (negative values count as 0), `times` times (default once). */
  record(ms: number, times = 1): void {
    const us = ms <= 0 ? 0 : Math.min(MAX_US, Math.round(ms * 1000));
    (this.#counts[bucketOf(us)] as number) += times;
    this.#count += times;
    this.#sum += us * times;
    if (us > this.#max) this.#max = us;
  }

  get count(): number {
    return this.#count;
  }

  /** The value (ms) at or below which `p` percent of the recorded values fall. */
  percentile(p: number): number {
    if (this.#count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.#counts[b] as number;
      if (seen >= rank) return Math.min(this.#max, highestIn(b)) / 1000;
    }
    return this.#max / 1000;
  }

  summary(): LatencySummary {
    return {
      count: this.#count,
      mean: this.#count === 0 ? Number.NaN : this.#sum / this.#count / 1000,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.#count === 0 ? Number.NaN : this.#max / 1000,
    };
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#max = 0;
  }
}

/** What one open-loop trial measured. Plain numbers only, so that it crosses an IPC channel. */
export interface TrialResult {
  /** Offered rate (requests per second). */
  readonly offered: number;
  /** Replies received during the measured window, per second of it. */
  readonly achieved: number;
  /** Latency from scheduled send time, of the requests scheduled in the measured window. */
  readonly latency: LatencySummary;
  /** Median latency of the requests scheduled in the first and in the last quarter of the window (ms). */
  readonly p50FirstQuarter: number;
  readonly p50LastQuarter: number;
  /** How late the generator actually sent (actual − scheduled send time), same requests. */
  readonly sendLag: LatencySummary;
  /** Requests sent but not yet answered when the schedule ended. */
  readonly backlogAtEnd: number;
  /** Requests answered with an error (their latency is still recorded). */
  readonly errors: number;
  /** Requests still unanswered when the drain time ran out. */
  readonly unanswered: number;
  /** Length of the measured window, seconds. */
  readonly seconds: number;
  /** CPU time (user + system) of the process that ran the schedule, over the measured window, ms. */
  readonly cpuMs: number;
}

export interface OpenLoopTarget {
  /**
   * Sends request `seq` (0, 1, 2, … in schedule order). Either return a promise that settles
   * with the reply (rejects on an error), or return nothing and call `run.complete(seq)` when
   * the reply arrives.
   */
  send(seq: number): PromiseLike<unknown> | void;
  /** Called after each burst of sends in one turn (e.g. to uncork sockets). */
  flush?(): void;
}

export interface OpenLoopOptions {
  /** Offered rate, requests per second. */
  readonly rate: number;
  /** Sent on the same schedule before the measured window, not recorded (JIT, pools, caches). */
  readonly warmupMs: number;
  /** The measured window: requests scheduled in it are recorded. */
  readonly durationMs: number;
  /** How long to wait, after the schedule ends, for the last replies. Default 5000. */
  readonly drainMs?: number;
  /** Stop sending (and fail the trial) once this many requests are unanswered. Default max(10 000, 2 s of offered load). */
  readonly maxOutstanding?: number;
}

/** A running open-loop trial. */
export interface OpenLoopRun {
  /** Reports the reply to request `seq` (for targets whose `send` returns nothing). */
  complete(seq: number, failed?: boolean): void;
  readonly result: Promise<TrialResult>;
  /**
   * Resolves once every request sent has been answered (no time limit). An overloaded trial
   * leaves a backlog in the system behind it; await this before the next trial, or that
   * backlog is load on it.
   */
  readonly settled: Promise<void>;
}

/** Below this interval the schedule is served in 1 ms ticks: the timer cannot wake more often. */
const TICK_MS = 1;

/** Starts an open-loop trial against `target` (see the file comment for the method). */
export function openLoop(target: OpenLoopTarget, options: OpenLoopOptions): OpenLoopRun {
  const { rate, warmupMs, durationMs } = options;
  if (!(rate > 0)) throw new RangeError(`rate must be positive, got ${rate}`);
  const drainMs = options.drainMs ?? 5000;
  const maxOutstanding = options.maxOutstanding ?? Math.max(10_000, Math.ceil(rate * 2));
  const interval = 1000 / rate;
  const first = Math.ceil((warmupMs * rate) / 1000); // first measured seq
  const total = first + Math.ceil((durationMs * rate) / 1000);
  const q1 = first + Math.floor((total - first) / 4); // first seq after the window's first quarter
  const q3 = total - Math.floor((total - first) / 4); // first seq of its last quarter
  const record = (seq: number, ms: number): void => {
    latency.record(ms);
    if (seq < q1) firstQuarter.record(ms);
    else if (seq >= q3) lastQuarter.record(ms);
  };
  const latency = new LatencyHistogram();
  const firstQuarter = new LatencyHistogram();
  const lastQuarter = new LatencyHistogram();
  const sendLag = new LatencyHistogram();
  const answered = new Uint8Array(total);
  let next = 0;
  let outstanding = 0;
  let errors = 0;
  let completedInWindow = 0;
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let cpuStart: NodeJS.CpuUsage | undefined;
  let cpuMs = 0;
  let backlogAtEnd = 0;
  let overloaded = false;
  let finish: (() => void) | undefined;
  let scheduleDone = false;
  let onSettled: (() => void) | undefined;
  const settled = new Promise<void>((resolve) => (onSettled = resolve));
  const t0 = performance.now() + 1; // a little ahead, so request 0 is not late by construction

  const complete = (seq: number, failed = false): void => {
    if (seq < 0 || seq >= next || answered[seq] === 1) return; // a stray or repeated reply
    answered[seq] = 1;
    outstanding--;
    const t = performance.now();
    if (failed) errors++;
    if (t >= windowStart && t < windowEnd) completedInWindow++;
    if (seq >= first) record(seq, t - (t0 + seq * interval));
    if (outstanding === 0 && scheduleDone) {
      onSettled?.();
      finish?.();
    }
  };

  const issue = (seq: number): void => {
    outstanding++;
    if (seq >= first) sendLag.record(performance.now() - (t0 + seq * interval));
    const p = target.send(seq);
    if (p !== undefined) p.then(() => complete(seq), () => complete(seq, true));
  };

  const result = new Promise<TrialResult>((resolve) => {
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      const t = performance.now();
      // Requests nobody answered keep the wait they have had so far: a lower bound, not a gap.
      let unanswered = 0;
      for (let seq = first; seq < next; seq++) {
        if (answered[seq] === 0) {
          unanswered++;
          record(seq, t - (t0 + seq * interval));
        }
      }
      for (let seq = next; seq < total; seq++) unanswered++; // never sent (overloaded)
      const seconds = (Math.min(windowEnd, t) - windowStart) / 1000;
      resolve({
        offered: rate,
        achieved: completedInWindow / seconds,
        latency: latency.summary(),
        p50FirstQuarter: firstQuarter.percentile(50),
        p50LastQuarter: lastQuarter.percentile(50),
        sendLag: sendLag.summary(),
        backlogAtEnd,
        errors,
        unanswered,
        seconds,
        cpuMs,
      });
    };
    const drain = (): void => {
      windowEnd = performance.now();
      const cpu = process.cpuUsage(cpuStart);
      cpuMs = (cpu.user + cpu.system) / 1000;
      backlogAtEnd = outstanding;
      scheduleDone = true;
      if (outstanding === 0) {
        onSettled?.();
        return end();
      }
      const timer = setTimeout(end, drainMs);
      finish = () => {
        clearTimeout(timer);
        end();
      };
    };
    const tick = (): void => {
      const t = performance.now();
      const due = Math.min(total, Math.floor((t - t0) / interval) + 1);
      if (cpuStart === undefined && due > first) {
        windowStart = t0 + first * interval;
        cpuStart = process.cpuUsage();
      }
      while (next < due) {
        if (outstanding >= maxOutstanding) {
          overloaded = true;
          if (cpuStart === undefined) {
            // Overloaded during the warm-up: the "window" is the moment of giving up.
            windowStart = t;
            cpuStart = process.cpuUsage();
          }
          break;
        }
        issue(next++);
      }
      target.flush?.();
      if (next >= total || overloaded) {
        drain();
        return;
      }
      setTimeout(tick, Math.max(TICK_MS, t0 + next * interval - performance.now()));
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
  return { complete, result, settled };
}

/** Backlog bound of the saturation criterion: the queue may hold this much offered load. */
const BACKLOG_MS = 100;
/** Latency-growth bound of the criterion: last quarter's median ≤ factor × first quarter's + slack. */
const GROWTH_FACTOR = 2;
const GROWTH_SLACK_MS = 5;
/** Achieved-to-offered ratio a sustained trial reaches. */
const ACHIEVED_RATIO = 0.97;

/** Whether a trial kept up with its offered rate (the criterion in the file comment). */
export function sustained(r: TrialResult): boolean {
  return (
    r.achieved >= ACHIEVED_RATIO * r.offered &&
    r.backlogAtEnd <= Math.max(1, (r.offered * BACKLOG_MS) / 1000) &&
    // NaN (no requests in a quarter) compares false: such a trial is too short to judge.
    r.p50LastQuarter <= GROWTH_FACTOR * r.p50FirstQuarter + GROWTH_SLACK_MS &&
    r.errors === 0 &&
    r.unanswered === 0
  );
}

export interface SaturationOptions {
  /** First rate tried, requests per second. */
  readonly startRate: number;
  /** Factor between rates while searching for the first unsustained (or sustained) rate. Default 2. */
  readonly growth?: number;
  /** Stop bisecting once highest sustained and lowest unsustained are within this fraction. Default 0.05. */
  readonly precision?: number;
  /** Upper bound on trials. Default 14. */
  readonly maxTrials?: number;
  /** Never offer more than this (a bound on the search, e.g. what the generator can send). */
  readonly maxRate?: number;
  /** Called after each trial (progress logging). */
  readonly onTrial?: (r: TrialResult, ok: boolean) => void;
}

export interface Saturation {
  /** The highest sustained offered rate found (0 when even the lowest rate tried failed). */
  readonly rate: number;
  /** The trial at that rate (undefined when none was sustained). */
  readonly at: TrialResult | undefined;
  readonly trials: readonly TrialResult[];
}

/** Finds the highest rate `trial` sustains (see the file comment). `trial(rate)` runs one short open-loop trial. */
export async function findSaturation(trial: (rate: number) => Promise<TrialResult>, options: SaturationOptions): Promise<Saturation> {
  const growth = options.growth ?? 2;
  const precision = options.precision ?? 0.05;
  const maxTrials = options.maxTrials ?? 14;
  const maxRate = options.maxRate ?? Number.POSITIVE_INFINITY;
  const trials: TrialResult[] = [];
  let lo: TrialResult | undefined; // highest sustained
  let hi: number | undefined; // lowest unsustained rate
  const run = async (rate: number): Promise<boolean> => {
    const r = await trial(Math.round(rate));
    trials.push(r);
    const ok = sustained(r);
    options.onTrial?.(r, ok);
    if (ok && (lo === undefined || r.offered > lo.offered)) lo = r;
    if (!ok && (hi === undefined || r.offered < hi)) hi = r.offered;
    return ok;
  };
  let rate = Math.min(options.startRate, maxRate);
  if (await run(rate)) {
    while (hi === undefined && rate < maxRate && trials.length < maxTrials) {
      rate = Math.min(rate * growth, maxRate);
      await run(rate);
    }
  } else {
    while (lo === undefined && rate > 1 && trials.length < maxTrials) {
      rate /= growth;
      await run(rate);
    }
  }
  while (lo !== undefined && hi !== undefined && hi / lo.offered > 1 + precision && trials.length < maxTrials) {
    await run(Math.sqrt(lo.offered * hi));
  }
  const best = lo as TrialResult | undefined;
  return { rate: best?.offered ?? 0, at: best, trials };
}

/** Runs `trial` at each fraction of `saturation` (e.g. [0.5, 0.8]), in order. */
export async function atFractions(saturation: number, fractions: readonly number[], trial: (rate: number) => Promise<TrialResult>): Promise<TrialResult[]> {
  const out: TrialResult[] = [];
  for (const f of fractions) out.push(await trial(Math.max(1, Math.round(saturation * f))));
  return out;
}

/** One line for a log: offered, achieved, latency percentiles, backlog, generator lag. */
export function describe(r: TrialResult): string {
  const l = r.latency;
  // NaN arrives as null through JSON (IPC).
  const f = (n: number | null): string => (n === null || Number.isNaN(n) ? '–' : n < 10 ? n.toFixed(2) : n.toFixed(1));
  return (
    `offered ${Math.round(r.offered)}/s, achieved ${Math.round(r.achieved)}/s; ` +
    `p50 ${f(l.p50)} ms, p99 ${f(l.p99)}, p99.9 ${f(l.p999)}, max ${f(l.max)}; ` +
    `median ${f(r.p50FirstQuarter)} → ${f(r.p50LastQuarter)} ms first → last quarter; ` +
    `backlog ${r.backlogAtEnd}, send lag p99 ${f(r.sendLag.p99)} ms` +
    (r.errors > 0 ? `, ${r.errors} errors` : '') +
    (r.unanswered > 0 ? `, ${r.unanswered} unanswered` : '')
  );
}
