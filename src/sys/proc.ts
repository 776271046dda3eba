// Reading /proc and signalling processes: the one place outside the spawners that looks at other
// processes. The kubelet's liveness and ownership checks, `lab down`, the ingress's nginx reload
// and `lab exec` all go through these readers; each returns null (or nothing) when the process
// is gone, since any PID can exit between two reads.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

export interface ProcStat {
  /** R, S, D, Z (exited, not yet reaped), ... */
  state: string;
  ppid: number;
}

/** Every PID in /proc right now: the one scan of the process table that the callers share. */
export function listPids(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

/** The process's state and parent, or null when it is gone. The command name may hold spaces
 *  and parentheses, so fields are counted from the last ')'. */
export function procStat(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return null;
  }
}

/**
 * When the process started, in clock ticks since boot (field 22 of /proc/<pid>/stat), or null when
 * it is gone. With the PID it names one process for good: a reused PID has a later start.
 */
export function procStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields from the state on (field 3); the start time is field 22.
    const v = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return v === undefined ? null : Number(v);
  } catch {
    return null;
  }
}

/** Alive and not a zombie. */
export function isRunning(pid: number): boolean {
  const s = procStat(pid);
  return s !== null && s.state !== 'Z';
}

/** The PID exists (one kill(pid, 0) syscall; a zombie still exists). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The process's arguments (/proc/<pid>/cmdline), or null when it is gone. A process may rewrite
 * them: an nginx master shows "nginx: master process <its command line>" as its first argument.
 */
export function procCmdline(pid: number): string[] | null {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.at(-1) === '') argv.pop(); // each argument ends with a NUL, the last one too
    return argv;
  } catch {
    return null;
  }
}

/** The environment the process was started with (/proc/<pid>/environ), or null when it is gone. */
export function procEnviron(pid: number): Record<string, string> | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return null;
  }
  const env: Record<string, string> = {};
  for (const kv of raw.split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

/**
 * The process's root directory (/proc/<pid>/root, the target of its chroot), or null when it is
 * gone or not readable.
 */
export function procRoot(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/root`);
  } catch {
    return null;
  }
}

/** Inode of the process's network namespace (/proc/<pid>/ns/net), or null when it is gone. */
export function procNetnsInode(pid: number): number | null {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return null;
  }
}

/** Child pids of a process (an nginx master's workers), [] when it is gone. */
export function childPids(pid: number): number[] {
  try {
    // Children of the main thread only; a single-threaded master forks from it.
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Sends `signal` to `pid`. Throws as kill(2) does (ESRCH when the process is gone): callers check
 * first that the PID is the process they mean, since a PID can be reused once its process is reaped.
 */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  process.kill(pid, signal);
}

/**
 * The signals the process has a handler for (SigCgt in /proc/<pid>/status), or null when it is
 * gone. A PID namespace's init (a container's first process) only receives, from outside its
 * namespace, the signals it handles, plus SIGKILL and SIGSTOP: the kernel drops the rest.
 */
export function procCaughtSignals(pid: number): Set<number> | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(text);
  if (!m) return null;
  const mask = BigInt(`0x${m[1]}`);
  const out = new Set<number>();
  for (let sig = 1; sig <= 64; sig++) if ((mask >> BigInt(sig - 1)) & 1n) out.add(sig);
  return out;
}

/** The process's PID as seen inside its own PID namespace (NSpid's last field), or null. */
export function procNamespacePid(pid: number): number | null {
  try {
    const m = /^NSpid:\s*(.+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    const last = m?.[1]?.trim().split(/\s+/).at(-1);
    return last === undefined ? null : Number(last);
  } catch {
    return null;
  }
}

/** The path of one of a process's namespaces (runc joins a pod sandbox's IPC and UTS namespaces by it). */
export function procNamespacePath(pid: number, kind: 'net' | 'ipc' | 'uts' | 'pid' | 'mnt'): string {
  return `/proc/${pid}/ns/${kind}`;
}
