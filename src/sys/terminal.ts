// Commands with a terminal: the kubelet's `kubectl exec -it` (the pty runc makes in the container)
// and a terminal of its own for a program that insists on one (kubectl -t in the tests). Node can
// neither open a pty nor receive the master that `runc exec --console-socket` sends over a unix
// socket (SCM_RIGHTS), so a small Python program, ptyrelay.py beside this file, holds the master:
// it copies its stdin to the master and the master to its stdout, applies the window sizes written
// to its fd 3, and exits with the command's status. See ptyrelay.py for its options.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { LAB_ROOT } from '../../bin/bundles.mjs';
import { spawnCounter } from './exec.ts';
import { checkArgv, streamChild, type StreamChild } from './stream.ts';

/**
 * Debian's interpreter by its path: `python3` from PATH may be a pyenv or virtualenv shim, slower
 * to start and not the interpreter the package table names. -I: no user site, no PYTHON* variables,
 * the script's folder not on sys.path.
 */
const PYTHON = ['/usr/bin/python3', '-I'];
const RELAY = path.join(LAB_ROOT, 'src', 'sys', 'ptyrelay.py');

export interface TerminalChild extends StreamChild {
  stdin: Writable;
  /** The window size (columns, rows) of the terminal; the command sees SIGWINCH. */
  resize(cols: number, rows: number): void;
}

/** A window size as the relay reads it: "COLS ROWS", each 1..65535 (a struct winsize's u16). */
export function sizeLine(cols: number, rows: number): string | undefined {
  const ok = (n: number) => Number.isInteger(n) && n > 0 && n < 65536;
  return ok(cols) && ok(rows) ? `${cols} ${rows}\n` : undefined;
}

function startRelay(options: string[], argv: string[], env?: Record<string, string>): TerminalChild {
  const command = checkArgv(argv);
  const full = checkArgv([...PYTHON, RELAY, ...options, '--', ...command]);
  spawnCounter.count++;
  // fd 3: the window sizes, one line each.
  const child = spawn(full[0], full.slice(1), { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', ...env } });
  const sizes = child.stdio[3] as Writable | null;
  sizes?.on('error', () => {});
  const base = streamChild(child, full);
  return {
    ...base,
    stdin: child.stdin!,
    resize(cols, rows) {
      const line = sizeLine(cols, rows);
      if (line && sizes && !sizes.writableEnded) sizes.write(line);
    },
  };
}

/**
 * `runc exec --detach --tty --console-socket <socket> --pid-file <pidFile> [--process <process>]`
 * (`argv`) with its terminal: the relay listens on `socket` (in a directory only root can enter;
 * it removes the socket once runc has connected, or on its way out), receives the master, and
 * waits for the process named in `pidFile` as its subreaper. The first window size, when it
 * comes within `waitSizeMs`, is written into `process`'s consoleSize before runc starts.
 */
export function spawnOnConsole(argv: string[], files: { socket: string; pidFile: string; process?: string }, opts: { waitSizeMs?: number } = {}): TerminalChild {
  const options = ['--console-socket', files.socket, '--pid-file', files.pidFile];
  if (files.process) options.push('--process', files.process);
  if (opts.waitSizeMs) options.push('--wait-size', String(opts.waitSizeMs));
  return startRelay(options, argv);
}

/** `argv` on a new pty of the given size, as its controlling terminal (kubectl -it in a test). */
export function spawnOnNewPty(argv: string[], size: { cols: number; rows: number }, env?: Record<string, string>): TerminalChild {
  const child = startRelay(['--new-pty', '--wait-size', '5000'], argv, env);
  child.resize(size.cols, size.rows);
  return child;
}
