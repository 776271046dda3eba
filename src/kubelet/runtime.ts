// The container runtime: starts a container's process inside its pod's network namespace, with
// its own hostname, an overlay root filesystem and its volumes. The process is detached (its own
// session, stdio to a log file) so it outlives the controller, as containers outlive a kubelet
// restart.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { LAB_ROOT } from '../api/system.ts';
import type { Container, EnvVar } from '../api/types.ts';
import { isPidInNetns } from '../sys/ip.ts';
import { isRunning } from '../sys/proc.ts';
import { spawnDetached } from '../sys/stream.ts';
import { ensureImage, imagePath } from './images.ts';

// Found from the checkout, not this file: the CLI runs a bundle under build/.
export const CONTAINER_INIT = path.join(LAB_ROOT, 'src', 'kubelet', 'container-init.sh');

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface ContainerLaunch {
  netns: string;
  hostname: string;
  /** Files `ip netns exec` bind-mounts over /etc for this pod (hosts, resolv.conf, hostname). */
  etcDir: string;
  /** <podDir>/containers/<name>: overlay upper/work/rootfs and the log. */
  containerDir: string;
  imagesDir: string;
  container: Container;
  mounts: Mount[];
  extraEnv?: EnvVar[];
  /** Called when the process exits (only while this controller process is its parent). */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/** The argv that starts the container (pure, so tests and `lab describe` can show it). */
export function containerArgv(l: ContainerLaunch, lower: string): string[] {
  const c = l.container;
  const command = [...(c.command ?? ['sh']), ...(c.args ?? [])];
  const d = l.containerDir;
  return [
    'ip', 'netns', 'exec', l.netns,
    'unshare', '--uts', '--',
    'sh', CONTAINER_INIT, path.join(d, 'rootfs'), lower, path.join(d, 'upper'), path.join(d, 'work'), l.hostname, l.etcDir,
    ...l.mounts.flatMap((m) => [m.source, m.target, m.readOnly ? 'ro' : 'rw']),
    '--',
    ...command,
  ];
}

export function containerLogPath(containerDir: string): string {
  return path.join(containerDir, 'container.log');
}

/** Containers this process started that have not exited yet: their exits arrive as events. */
const ownChildren = new Set<number>();

/** True for a container process this controller started and whose exit it will hear of. */
export function isOwnChild(pid: number): boolean {
  return ownChildren.has(pid);
}

export async function startContainer(l: ContainerLaunch): Promise<number> {
  const lower = await ensureImage(l.imagesDir, l.container.image);
  await Promise.all(['rootfs', 'upper', 'work'].map((d) => mkdir(path.join(l.containerDir, d), { recursive: true })));
  const argv = containerArgv(l, lower);
  for (const a of argv) if (a.includes('\0')) throw new Error('refusing NUL in container argument');
  const env: Record<string, string> = { PATH: imagePath(l.container.image), HOSTNAME: l.hostname, HOME: '/root' };
  for (const e of [...(l.extraEnv ?? []), ...l.container.env]) env[e.name] = e.value;
  const pid = spawnDetached(argv, {
    env,
    logFile: containerLogPath(l.containerDir),
    // An exit is an event: it never arrives before spawnDetached has returned the pid.
    onExit: (code, signal) => {
      ownChildren.delete(pid!);
      l.onExit?.(code, signal);
    },
  });
  if (pid === null) throw new Error(`could not start container ${l.container.name} in ${l.netns}`);
  ownChildren.add(pid);
  return pid;
}

/**
 * True when `pid` is alive and inside `netns`: compares the process's network namespace inode
 * with the namespace file's, so a PID reused by an unrelated process never counts as ours.
 */
export function isContainerAlive(pid: number | undefined, netns: string): boolean {
  if (!pid || !isRunning(pid)) return false; // gone, or exited and not yet reaped
  return isPidInNetns(pid, netns);
}
