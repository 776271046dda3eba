// Reading /proc: the one parser for /proc/<pid>/stat that the kubelet's liveness and ownership
// checks share.
import { readFileSync } from 'node:fs';

export interface ProcStat {
  /** R, S, D, Z (exited, not yet reaped), ... */
  state: string;
  ppid: number;
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
