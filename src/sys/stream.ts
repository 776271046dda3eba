// Long-running, interactive and detached children (tcpdump, `lab exec`, the prober agent,
// containers): the counterpart of exec.ts's `run`, which waits for a command and collects its
// output. Same rules: argument arrays only, never a shell; a child is only ever signalled by the
// PID this module started.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { inNetns, spawnCounter, type Netns } from './exec.ts';
import { assertKnownProgram } from './packages.ts';
import { spawnPool } from './spawner.ts';

const SAFE_ARG = /^[^\0\n\r]*$/;

export function checkArgv(argv: string[]): [string, ...string[]] {
  if (argv.length === 0) throw new Error('empty command');
  assertKnownProgram(argv[0]!);
  for (const a of argv) if (!SAFE_ARG.test(a)) throw new Error(`refusing command argument with control characters: ${JSON.stringify(a)}`);
  return argv as [string, ...string[]];
}

export interface StreamChild {
  pid: number;
  argv: string[];
  /** Piped when started with `stdin: true` (the kubelet's exec, kubectl exec -i), else null. */
  stdin: Writable | null;
  stdout: Readable;
  stderr: Readable;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Signals this child (by its PID, default SIGTERM) if it is still running. */
  stop(signal?: NodeJS.Signals): void;
}

/** Starts a long-running command (in `netns`) with its output (and, if asked, its input) as streams. */
export function spawnStream(argv: string[], opts: { netns?: Netns; env?: Record<string, string>; stdin?: boolean } = {}): StreamChild {
  assertKnownProgram(argv[0] ?? '');
  const [file, ...args] = checkArgv(inNetns(opts.netns, argv));
  spawnCounter.count++;
  const child: ChildProcess = spawn(file, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', ...opts.env } });
  return streamChild(child, [file, ...args]);
}

/** The StreamChild of a spawned child whose stdout and stderr are piped (also src/sys/terminal.ts's). */
export function streamChild(child: ChildProcess, argv: string[]): StreamChild {
  // A child that exits before reading its input must not crash the writer with EPIPE.
  child.stdin?.on('error', () => {});
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close', not 'exit': by then stdout and stderr have been read to the end.
    child.once('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
    child.once('exit', () => {
      done = true;
    });
    child.once('error', (e) => {
      done = true;
      child.stderr?.emit('data', Buffer.from(`${argv[0]}: ${e.message}\n`));
      resolve({ code: 127, signal: null });
    });
  });
  if (child.pid === undefined) {
    // spawn failed (e.g. ENOENT): 'error' follows; give callers a consistent object anyway.
    return { pid: -1, argv, stdin: child.stdin ?? null, stdout: child.stdout!, stderr: child.stderr!, exited, stop: () => {} };
  }
  const pid = child.pid;
  return {
    pid,
    argv,
    stdin: child.stdin ?? null,
    stdout: child.stdout!,
    stderr: child.stderr!,
    exited,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (done) return;
      try {
        process.kill(pid, signal);
      } catch {
        /* already gone */
      }
    },
  };
}

/**
 * Runs a command with the terminal's stdin/stdout/stderr (`lab exec`) and resolves with its exit
 * code (128 + signal number when a signal ended it, as a shell reports it). The environment is
 * exactly `env`: the caller decides what the command sees.
 */
export function runInteractive(argv: string[], opts: { env: Record<string, string> }): Promise<number> {
  const [file, ...args] = checkArgv(argv);
  spawnCounter.count++;
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'inherit', env: opts.env });
    // Ctrl-C reaches the child directly (same process group); this process only waits for it.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGQUIT', ignore);
    const forward = () => child.pid !== undefined && child.kill('SIGTERM');
    process.on('SIGTERM', forward);
    const done = (code: number) => {
      process.off('SIGINT', ignore);
      process.off('SIGQUIT', ignore);
      process.off('SIGTERM', forward);
      resolve(code);
    };
    child.once('error', (e) => {
      process.stderr.write(`${file}: ${e.message}\n`);
      done(127);
    });
    child.once('exit', (code, signal) => {
      const signo = signal ? (constants.signals[signal] ?? 1) : 0;
      done(code ?? 128 + signo);
    });
  });
}

/** A helper process that answers requests on its stdin with lines on its stdout. */
export interface PipedChild {
  stdin: Writable;
  stdout: Readable;
  /** Neither exited nor ended by a signal. */
  readonly running: boolean;
  /** Signals it (default SIGTERM); nothing once it has exited. */
  stop(signal?: NodeJS.Signals): void;
}

/**
 * Starts a helper (the kubelet's prober agent) with piped stdin/stdout and this process's stderr,
 * in this process's environment. `onExit` runs when it exits, for any reason.
 */
export function spawnPiped(argv: string[], opts: { netns?: Netns; onExit: () => void }): PipedChild {
  assertKnownProgram(argv[0] ?? '');
  const [file, ...args] = inNetns(opts.netns, argv) as [string, ...string[]];
  spawnCounter.count++;
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  child.on('exit', opts.onExit);
  return {
    stdin: child.stdin!,
    stdout: child.stdout!,
    get running() {
      // A child ended by a signal has no exit code: check both, or a killed agent looks alive.
      return child.exitCode === null && child.signalCode === null;
    },
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      child.kill(signal);
    },
  };
}

/**
 * Starts a process that outlives this one (a container): its own session (detached), stdin
 * ignored, stdout and stderr appended to `logFile`, exactly the environment `env`. Returns its
 * PID, or null when it could not be started. `onExit` is only heard while this process is its
 * parent; after a controller restart the kubelet finds it through /proc instead.
 */
export async function spawnDetached(
  argv: string[],
  opts: { env: Record<string, string>; logFile: string; onExit: (code: number | null, signal: NodeJS.Signals | null) => void },
): Promise<number | null> {
  assertKnownProgram(argv[0] ?? '');
  spawnCounter.count++;
  const pool = spawnPool();
  if (pool) return pool.spawnDetached(argv[0]!, argv.slice(1), opts);
  const log = openSync(opts.logFile, 'a');
  try {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log], env: opts.env });
    if (child.pid === undefined) return null;
    child.on('exit', opts.onExit);
    child.unref();
    return child.pid;
  } finally {
    // The child has its own copy of the descriptor.
    closeSync(log);
  }
}
