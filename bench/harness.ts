// The benchmark harness: what a benchmark is, what it returns, and how the runner calls it.
// A benchmark measures the lab against a floor measured in the same run on the same machine
// (the same kernel work done the plainest way), so a figure means something on any box.
import { randomBytes } from 'node:crypto';
import { run } from '../src/sys/exec.ts';

/** One measured number. `ratio` = value / floor; `goal` is the ratio to stay within. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The same work done the plainest way, measured in the same run. */
  floor?: number;
  /** value / floor; filled in by the harness when a floor is given. */
  ratio?: number;
  /**
   * With a floor: the ratio to stay within (1.5 = at most 1.5x the floor). Without a floor: a
   * limit for the value itself. Compared in the direction of `better`.
   */
  goal?: number;
  /** 'lower' (times, counts; the default) or 'higher' (throughput). */
  better?: 'lower' | 'higher';
}

export interface BenchContext {
  /** Progress lines (stderr), prefixed with the benchmark's name. */
  log(line: string): void;
  /** Measure each figure this many times and keep the best (default 1). */
  repeat: number;
  /** Free-form options from the command line (`--pods 100,500`). */
  options: Record<string, string | undefined>;
  /** Lines worth keeping in docs/BENCHMARKS.md under the benchmark (what the floor does, profiles). */
  note(line: string): void;
}

export interface Benchmark {
  /** Short name used on the command line: `npm run bench -- <name>`. */
  name: string;
  /** The heading of its section in docs/BENCHMARKS.md, when it should say more than the name ("Multi-node"). */
  title?: string;
  description: string;
  /** Skipped (clearly, with the reason) when not running as root. */
  needsRoot?: boolean;
  /** Command-line options it reads from `ctx.options`, for `--help`: name -> description. */
  options?: Record<string, string>;
  /** A reason to skip (a tool is missing, ...), or undefined to run. */
  precheck?: () => Promise<string | undefined> | string | undefined;
  run(ctx: BenchContext): Promise<Figure[]>;
}

export type BenchStatus = 'ok' | 'skipped' | 'failed';

export interface BenchResult {
  name: string;
  title?: string;
  description: string;
  status: BenchStatus;
  /** Why it was skipped or how it failed. */
  reason?: string;
  figures: Figure[];
  notes: string[];
  /** Wall-clock seconds the benchmark took, setup and cleanup included. */
  seconds: number;
  /** ISO date of the run. */
  date: string;
}

/** value / floor, or undefined when there is no usable floor. */
export function ratioOf(value: number, floor: number | undefined): number | undefined {
  if (floor === undefined || !Number.isFinite(floor) || floor <= 0 || !Number.isFinite(value)) return undefined;
  return value / floor;
}

/** Fills in each figure's ratio from its floor (a ratio the benchmark set itself is kept). */
export function withRatios(figures: Figure[]): Figure[] {
  return figures.map((f) => (f.ratio !== undefined ? f : { ...f, ratio: ratioOf(f.value, f.floor) }));
}

/** Whether a figure meets its goal; undefined when it has none. */
export function meetsGoal(f: Figure): boolean | undefined {
  if (f.goal === undefined) return undefined;
  const measured = f.floor !== undefined ? (f.ratio ?? ratioOf(f.value, f.floor)) : f.value;
  if (measured === undefined) return undefined;
  return (f.better ?? 'lower') === 'lower' ? measured <= f.goal : measured >= f.goal;
}

/** The best of several measurements: the smallest for 'lower', the largest for 'higher'. */
export function best(values: number[], better: 'lower' | 'higher' = 'lower'): number {
  if (values.length === 0) throw new Error('best() of no measurements');
  return better === 'lower' ? Math.min(...values) : Math.max(...values);
}

/** Busy and total jiffies of all CPUs, from the first line of /proc/stat. */
export function parseCpuTimes(procStat: string): { busy: number; total: number } {
  const f = procStat.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: idle and iowait are idle time
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - (f[4] ?? 0), total };
}

/** Milliseconds since the epoch, at performance.now()'s resolution (comparable with other processes' Date.now()). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** The median of one number picked from each result (a partial sync's ms, its floor's ms...). */
export function medianOf<T>(results: readonly T[], pick: (r: T) => number): number {
  return median(results.map(pick));
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The nearest-rank percentile: the smallest value at least p% of the values are at or below. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) throw new Error('percentile() of no measurements');
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/**
 * Waits until the machine is quiet: the kernel destroys deleted network namespaces, veths and
 * mounts asynchronously (cleanup_net, RCU), for seconds after a big teardown, and that work would
 * be billed to whatever is measured next. Gives up after `timeoutMs` (other work on the machine).
 * Returns the seconds waited and the CPU busy fraction of the last window.
 */
export async function settle(opts: { maxBusy?: number; windowMs?: number; timeoutMs?: number } = {}): Promise<{ seconds: number; busy: number }> {
  const { readFile } = await import('node:fs/promises');
  const maxBusy = opts.maxBusy ?? 0.1;
  const windowMs = opts.windowMs ?? 500;
  const t0 = performance.now();
  const deadline = t0 + (opts.timeoutMs ?? 20_000);
  let prev = parseCpuTimes(await readFile('/proc/stat', 'utf8'));
  let busy = 1;
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, windowMs));
    const cur = parseCpuTimes(await readFile('/proc/stat', 'utf8'));
    busy = (cur.busy - prev.busy) / Math.max(1, cur.total - prev.total);
    prev = cur;
    if (busy <= maxBusy) break;
  }
  return { seconds: (performance.now() - t0) / 1000, busy };
}

// Cleanups of the benchmark that is running, run by the runner on SIGINT/SIGTERM as well as by
// the benchmark's own `finally` (a Ctrl-C would otherwise skip the finally and leave namespaces).
const pending = new Set<() => Promise<void>>();

/** Registers a cleanup; returns a function that runs it once and unregisters it. */
export function deferCleanup(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = (): Promise<void> => {
    pending.delete(once);
    done ??= fn();
    return done;
  };
  pending.add(once);
  return once;
}

/**
 * Runs `fn` in a network namespace of its own, `<prefix>-<random>-<tag>`, deleted afterwards
 * (by the runner too, on SIGINT/SIGTERM).
 */
export async function withFreshNetns<T>(prefix: string, tag: string, fn: (netns: string) => Promise<T>): Promise<T> {
  const netns = `${prefix}-${randomBytes(3).toString('hex')}-${tag}`;
  await run(['ip', 'netns', 'add', netns]);
  const cleanup = deferCleanup(async () => {
    await run(['ip', 'netns', 'del', netns], { allowFail: true });
  });
  try {
    return await fn(netns);
  } finally {
    await cleanup();
  }
}

export async function runPendingCleanups(): Promise<void> {
  for (const fn of [...pending].reverse()) await fn().catch((e) => process.stderr.write(`cleanup failed: ${(e as Error).message}\n`));
}

export interface RunOptions {
  repeat: number;
  options: Record<string, string | undefined>;
  isRoot: boolean;
  log: (line: string) => void;
}

/** Runs one benchmark: root check, precheck, run, ratios. Never throws; failures become results. */
export async function runBenchmark(b: Benchmark, opts: RunOptions): Promise<BenchResult> {
  const date = new Date().toISOString();
  const t0 = performance.now();
  const notes: string[] = [];
  const result = (status: BenchStatus, figures: Figure[], reason?: string): BenchResult => ({
    name: b.name,
    ...(b.title ? { title: b.title } : {}),
    description: b.description,
    status,
    reason,
    figures: withRatios(figures),
    notes,
    seconds: (performance.now() - t0) / 1000,
    date,
  });
  if (b.needsRoot && !opts.isRoot) return result('skipped', [], 'needs root (it creates network namespaces): run `sudo npm run bench`');
  try {
    const why = await b.precheck?.();
    if (why) return result('skipped', [], why);
    const figures = await b.run({
      log: (line) => opts.log(`[${b.name}] ${line}`),
      repeat: opts.repeat,
      options: opts.options,
      note: (line) => notes.push(line),
    });
    return result('ok', figures);
  } catch (e) {
    return result('failed', [], (e as Error).stack ?? String(e));
  } finally {
    await runPendingCleanups();
  }
}
