// The container runtime as the kubelet sees it: a small interface in the shape of the CRI's
// RuntimeService (RunPodSandbox, CreateContainer+StartContainer, RemoveContainer,
// ListContainers, Exec). src/kubelet/runc.ts implements it with runc, as k3s's containerd does.
import { isPidInNetns } from '../sys/ip.ts';
import { isRunning } from '../sys/proc.ts';
import type { SecurityContext } from '../api/types.ts';

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Who a container belongs to: written into its OCI annotations, read back by ListContainers. */
export interface PodRef {
  name: string;
  namespace: string;
  uid: string;
}

export interface SandboxConfig {
  /** The sandbox's ID, chosen before its network was set up (the CNI_CONTAINERID of its ADD). */
  id?: string;
  pod: PodRef;
  hostname: string;
  /** The pod's network namespace (made by CNI ADD), joined by path. */
  netnsPath: string;
  /** <podDir>/sandbox: the sandbox container's bundle. */
  dir: string;
}

export interface ContainerConfig {
  pod: PodRef;
  name: string;
  image: string;
  /** Entry point and arguments, already resolved against the image (oci.ts containerArgs). */
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** /etc/hosts, /etc/resolv.conf, /etc/hostname and the volumes. */
  mounts: Mount[];
  securityContext?: SecurityContext;
  /** <podDir>/containers/<name>: bundle, writable layer, log. */
  dir: string;
}

export interface RunningContainer {
  id: string;
  /** The container's first process, as the machine numbers it. */
  pid: number;
}

/** A container as ListContainers reports it. */
export interface ListedContainer {
  id: string;
  pid: number;
  status: 'created' | 'running' | 'paused' | 'stopped' | 'creating';
  kind: 'sandbox' | 'container';
  pod: PodRef;
  /** Container name (empty for a sandbox). */
  name: string;
  sandboxId: string;
}

/**
 * How a container ended, heard from the process that waits for it. `code` is the container's exit
 * status, 128+N for a signal N, as Kubernetes reports it; null when its waiter was killed and the
 * container may still be running (then nothing is known: the kubelet checks).
 */
export type ExitHandler = (code: number | null, container: RunningContainer) => void;

export interface ContainerRuntime {
  /** Starts the pod's sandbox; `onExit` hears of its end (the pod's sandbox changed) while this process lives. */
  runPodSandbox(c: SandboxConfig, onExit?: ExitHandler): Promise<RunningContainer>;
  /** Creates and starts a container in the sandbox; `onExit` hears of its end while this process lives. */
  startContainer(sandbox: RunningContainer, c: ContainerConfig, onExit: ExitHandler): Promise<RunningContainer>;
  listContainers(): Promise<ListedContainer[]>;
  /** Removes a stopped (or, forced, a running) container and its root filesystem mount. */
  removeContainer(id: string, dir: string): Promise<void>;
  /** The argv that runs `command` inside a running container (kubectl exec, exec probes). */
  execArgv(id: string, command: string[], opts?: { tty?: boolean }): string[];
}

/** The ID Kubernetes shows in containerStatuses[].containerID: "<runtime>://<id>". */
export function containerIdOf(containerID: string | undefined): string | undefined {
  return containerID?.replace(/^[a-z]+:\/\//, '');
}

/**
 * True when `pid` is alive and inside `netns`: compares the process's network namespace inode
 * with the namespace file's, so a PID reused by an unrelated process never counts as ours.
 */
export function isContainerAlive(pid: number | undefined, netns: string): boolean {
  if (!pid || !isRunning(pid)) return false; // gone, or exited and not yet reaped
  return isPidInNetns(pid, netns);
}
