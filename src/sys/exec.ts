// The only module that spawns processes. Every command is an argument array (never a shell
// string); callers validate names before they get here, and `assertArg` is a last line of defence.
import { execa } from 'execa';
import { assertKnownProgram } from './packages.ts';
import { spawnPool } from './spawner.ts';

/** A network namespace by name, or null for the namespace the controller itself runs in. */
export type Netns = string | null;

export interface RunOptions {
  /** Run inside this named network namespace (via `ip netns exec`). */
  netns?: Netns;
  /** Written to the command's standard input. */
  input?: string;
  /** Resolve instead of throwing when the command exits non-zero. */
  allowFail?: boolean;
  timeoutMs?: number;
  /** Added to the environment (CNI plugins take their arguments there: CNI_COMMAND, CNI_NETNS...). */
  env?: Record<string, string>;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(`command failed (exit ${exitCode}): ${argv.join(' ')}\n${stderr.trim()}`);
  }
}

/** Counts spawned processes; benchmarks and tests read it to check batching. */
export const spawnCounter = { count: 0 };

const SAFE_ARG = /^[^\0\n\r]*$/;

function assertArg(arg: string): void {
  if (!SAFE_ARG.test(arg)) throw new Error(`refusing command argument with control characters: ${JSON.stringify(arg)}`);
}

export function inNetns(netns: Netns | undefined, argv: string[]): string[] {
  return netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
}

export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  assertKnownProgram(argv[0] ?? '');
  const full = inNetns(opts.netns, argv);
  full.forEach(assertArg);
  spawnCounter.count++;
  // LAB_SHOW_COMMANDS=1: print every command the lab runs (a way to learn what it does).
  if (opts.env) for (const [k, v] of Object.entries(opts.env)) assertArg(`${k}=${v}`);
  if (process.env.LAB_SHOW_COMMANDS) process.stderr.write(`+ ${opts.env ? `${Object.entries(opts.env).map(([k, v]) => `${k}=${v}`).join(' ')} ` : ''}${full.join(' ')}${opts.input ? ` <<< (${opts.input.length} bytes)` : ''}\n`);
  const [file, ...args] = full as [string, ...string[]];
  const pool = spawnPool();
  if (pool) {
    const r = await pool.run(file, args, { env: { ...process.env, LC_ALL: 'C', ...opts.env } as Record<string, string>, input: opts.input, timeoutMs: opts.timeoutMs });
    const out: RunResult = { stdout: r.stdout, stderr: r.stderr, exitCode: r.error ? 1 : r.exitCode };
    if (out.exitCode !== 0 && !opts.allowFail) throw new CommandError(full, out.exitCode, out.stderr || r.error || '');
    return out;
  }
  const result = await execa(file, args, {
    input: opts.input,
    reject: false,
    timeout: opts.timeoutMs,
    stripFinalNewline: false,
    env: { LC_ALL: 'C', ...opts.env },
  });
  const out: RunResult = {
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    exitCode: result.exitCode ?? (result.failed ? 1 : 0),
  };
  if (out.exitCode !== 0 && !opts.allowFail) throw new CommandError(full, out.exitCode, out.stderr || String(result.message ?? ''));
  return out;
}

/** `ip` in a namespace; `ip -n` avoids the extra mount namespace of `ip netns exec`. */
export function ipArgs(netns: Netns | undefined, ...args: string[]): string[] {
  return netns ? ['ip', '-n', netns, ...args] : ['ip', ...args];
}

/** Runs many `ip` commands in one process (`ip -batch -`), one line each. */
export async function ipBatch(netns: Netns | undefined, lines: string[][], opts: { force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  for (const l of lines) l.forEach(assertBatchWord);
  const argv = ipArgs(netns, ...(opts.force ? ['-force'] : []), '-batch', '-');
  await run(argv, { input: lines.map((l) => l.join(' ')).join('\n') + '\n', allowFail: opts.force });
}

/**
 * Reads many `ip` commands' answers in one process: `ip <flags> -force -batch -` (`-j` prints one
 * JSON array per command, one line each). `-force` goes on after a command fails (a device that is
 * not there), so the caller gets the answers that exist and the exit code; it never throws for that.
 */
export async function ipBatchQuery(netns: Netns | undefined, flags: string[], lines: string[][]): Promise<RunResult> {
  for (const l of lines) l.forEach(assertBatchWord);
  return run(ipArgs(netns, ...flags, '-force', '-batch', '-'), { input: lines.map((l) => l.join(' ')).join('\n') + '\n', allowFail: true });
}

/** `bridge` in a namespace (`bridge -n`, as `ip -n`). */
export function bridgeArgs(netns: Netns | undefined, ...args: string[]): string[] {
  return netns ? ['bridge', '-n', netns, ...args] : ['bridge', ...args];
}

/** Runs many `bridge` commands (`bridge fdb ...`) in one process (`bridge -batch -`), one line each. */
export async function bridgeBatch(netns: Netns | undefined, lines: string[][]): Promise<void> {
  if (lines.length === 0) return;
  for (const l of lines) l.forEach(assertBatchWord);
  await run(bridgeArgs(netns, '-batch', '-'), { input: lines.map((l) => l.join(' ')).join('\n') + '\n' });
}

// ip -batch (and bridge -batch) split lines on white space, so a word must not contain any (names are validated
// long before this; this guards against a future caller that forgets).
function assertBatchWord(word: string): void {
  if (word.length === 0 || /[\s"'\\#]/.test(word)) throw new Error(`refusing ip batch word ${JSON.stringify(word)}`);
}
