// flock(2) for Node, which has no API for it: the lock that makes one process the owner of an
// instance (src/cli/lock.ts).
//
// Why flock(2), and why this way:
// - An O_EXCL lock file with the holder's pid is atomic to create but not to take over: after a
//   kill -9 the file stays, and two processes that both find it stale can both remove it and both
//   create their own (A removes, A creates, B removes A's, B creates). flock(2) has no stale state
//   at all: the kernel drops the lock when the last descriptor of the open file description
//   closes, and a process killed by SIGKILL closes every descriptor it had.
// - Node cannot call flock(2), but flock(1) (util-linux) locks a descriptor it is handed by number
//   (`flock -n 3`). A lock belongs to the open file description, not to the process that asked for
//   it, so: this process opens the file, hands the descriptor to `flock` as its fd 3, `flock` takes
//   the lock and exits, and the lock stays held through this process's own descriptor, until
//   `release()` or until this process dies, however it dies.
// - Node opens files with O_CLOEXEC, so the processes the lab starts later (containers, which
//   outlive it) never inherit the descriptor and never keep the lock alive.
// - A file that a holder may delete (`lab down` removes the instance's directory, lock file
//   included) needs one more check: a waiter that was blocked on the old file gets its lock on an
//   inode nobody else will ever open again. After each lock the path is compared with the
//   descriptor (same device and inode) and the lock is taken again on the new file when they differ.
//   The one who removes the file must hold its lock and remove it last (`unlinkHeld`).
import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { spawnCounter } from './exec.ts';
import { assertKnownProgram } from './packages.ts';

/** flock(1)'s exit code when the lock is held by someone else (`-E`), distinct from its errors. */
const CONFLICT = 75;

export interface HeldLock {
  readonly file: string;
  /** Replaces the file's content in place (a rename would put another inode at the path). */
  write(text: string): void;
  /** Removes the file while still holding its lock: only the holder may, and only as its last step. */
  unlinkHeld(): void;
  /** Empties the file and drops the lock. Idempotent. */
  release(): void;
}

/** One `flock` on the descriptor: true when taken, false when someone else held it for `waitMs`. */
function flockFd(fd: number, file: string, waitMs: number): Promise<boolean> {
  assertKnownProgram('flock');
  const argv = ['flock', '-E', String(CONFLICT), ...(waitMs > 0 ? ['-w', (waitMs / 1000).toFixed(3)] : ['-n']), '3'];
  spawnCounter.count++;
  if (process.env.LAB_SHOW_COMMANDS) process.stderr.write(`+ ${argv.join(' ')} 3<>${file}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe', fd], env: { LC_ALL: 'C', PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (e) => reject(new Error(`flock ${file}: ${e.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve(true);
      else if (code === CONFLICT) resolve(false);
      else reject(new Error(`flock ${file} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}

function sameFile(fd: number, file: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(file);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false; // removed meanwhile
  }
}

/**
 * Takes an exclusive flock(2) on `file` (created, with its directory, when missing), waiting at
 * most `waitMs` (0: one try). Returns null when another process holds it.
 */
export async function lockFile(file: string, waitMs = 0): Promise<HeldLock | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    mkdirSync(path.dirname(file), { recursive: true });
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // the directory was just removed
      throw e;
    }
    let taken: boolean;
    try {
      taken = await flockFd(fd, file, Math.max(0, deadline - Date.now()));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    if (taken && sameFile(fd, file)) return held(fd, file);
    closeSync(fd);
    if (!taken) return null;
    // Locked a file its holder had removed: take the lock again, on the one at the path now.
  }
}

function held(fd: number, file: string): HeldLock {
  let open = true;
  return {
    file,
    write(text: string) {
      if (!open) return;
      ftruncateSync(fd, 0);
      writeSync(fd, text, 0);
    },
    unlinkHeld() {
      if (open && sameFile(fd, file)) unlinkSync(file);
    },
    release() {
      if (!open) return;
      open = false;
      try {
        ftruncateSync(fd, 0);
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** The lock file's content ('' when it is missing): whatever its holder wrote there. */
export function readLockFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
