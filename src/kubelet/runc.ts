// The runtime with runc, as k3s's containerd drives it (one OCI bundle per container):
// - the pod sandbox is a pause container holding the pod's IPC and UTS namespaces (and the
//   hostname), inside the network namespace CNI made;
// - each container gets a fresh overlay root (the image below, a new writable layer above, mounted
//   here before runc starts, as containerd's snapshotter does) and its own PID and mount namespaces;
// - `runc run` stays in the foreground as the container's waiter (containerd-shim's job): it
//   reaps the container and exits with its status, which this process hears as an exit event.
//   It runs detached (own session), so containers outlive a controller; after a restart the
//   kubelet finds them again with `runc list` (their OCI annotations name pod and container).
// Everything runc knows lives under a per-instance --root, so instances never see each other's
// containers and `lab down` finds all of them.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, watch } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { removeCgroupIfEmpty, removeCgroupTree, removeCgroupTrees } from '../sys/cgroup.ts';
import { run } from '../sys/exec.ts';
import { mountOverlay, mountsUnder, unmount } from '../sys/mount.ts';
import { procNamespacePath } from '../sys/proc.ts';
import { spawnDetached } from '../sys/stream.ts';
import { agentPaths, agentsDir, type InstancePaths } from '../node/instance.ts';
import { ensureImage, imageConfig } from './images.ts';
import { Semaphore } from '../util/semaphore.ts';
import { ociSpec } from './oci.ts';
import type { ContainerConfig, ContainerRuntime, ExitHandler, ListedContainer, PodRef, RunningContainer, SandboxConfig } from './runtime.ts';

export const PAUSE_IMAGE = 'packet-path-lab/pause';

/** containerd's CRI annotations: how a listed container is tied to its pod. */
export const ANNOTATIONS = {
  type: 'io.kubernetes.cri.container-type',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  podName: 'io.kubernetes.cri.sandbox-name',
  podNamespace: 'io.kubernetes.cri.sandbox-namespace',
  podUid: 'io.kubernetes.cri.sandbox-uid',
  name: 'io.kubernetes.cri.container-name',
  image: 'io.kubernetes.cri.image-name',
} as const;

/** How long runc may take to start a container's process (it writes the pid file then). */
const START_TIMEOUT_MS = 30_000;

/**
 * Containers being started at once, at most. runc's start is CPU-bound: on 2 cores, 8 at a time
 * start 100 pods as fast as all at once, and 500 at once push some past START_TIMEOUT_MS.
 */
export const PARALLEL_STARTS = 8;
const starts = new Semaphore(PARALLEL_STARTS);

/** Container processes whose waiter is this process's child: their exits arrive as events. */
const ownChildren = new Set<number>();

/** True for a container process whose exit this process will hear of. */
export function isOwnChild(pid: number): boolean {
  return ownChildren.has(pid);
}

/** Raised when runc could not start the process (no such executable, a bad mount...). */
export class StartError extends Error {}

export class RuncRuntime implements ContainerRuntime {
  readonly root: string;

  constructor(private readonly paths: InstancePaths) {
    this.root = path.join(paths.stateDir, 'runc');
  }

  private runc(...args: string[]): string[] {
    return ['runc', '--root', this.root, ...args];
  }

  /** cgroup of a container: under the instance's and the pod's, as kubepods/pod<uid>/<id>. */
  cgroupsPath(pod: PodRef, id: string): string {
    return containerCgroupsPath(this.paths.instance, pod, id);
  }

  async runPodSandbox(c: SandboxConfig, onExit: ExitHandler = () => {}): Promise<RunningContainer> {
    // The image itself, read-only (as containerd runs the sandbox): no overlay to mount.
    const rootfs = await ensureImage(this.paths.imagesDir, PAUSE_IMAGE);
    // The ID containerd chose before the network was set up (CNI_CONTAINERID), when given.
    const id = c.id ?? newId();
    await mkdir(c.dir, { recursive: true });
    const spec = sandboxSpec(c, { id, rootfs, cgroupsPath: this.cgroupsPath(c.pod, id) });
    return this.run(id, c.dir, spec, path.join(c.dir, 'sandbox.log'), onExit);
  }

  async startContainer(sandbox: RunningContainer, c: ContainerConfig, onExit: ExitHandler): Promise<RunningContainer> {
    const lower = await ensureImage(this.paths.imagesDir, c.image);
    const id = newId();
    const rootfs = await this.prepareRootfs(c.dir, lower);
    const spec = containerSpec(sandbox, c, { id, rootfs, cgroupsPath: this.cgroupsPath(c.pod, id) });
    try {
      return await this.run(id, c.dir, spec, path.join(c.dir, 'container.log'), onExit);
    } catch (e) {
      await unmount([rootfs]);
      throw e;
    }
  }

  /**
   * The container's root: an overlay of the image (read-only, shared) under a new writable layer,
   * fresh for every start as a new container gets from containerd's snapshotter. The image's own
   * directory is never written, not even the mount points runc makes.
   */
  private async prepareRootfs(dir: string, lower: string): Promise<string> {
    const rootfs = path.join(dir, 'rootfs');
    // A restart: the last start's overlay may still be mounted. (Reading the mount table costs a
    // millisecond per hundred containers running: skipped for a first start.)
    if (existsSync(rootfs)) await unmount(mountsUnder(rootfs));
    await Promise.all(['upper', 'work'].map((d) => rm(path.join(dir, d), { recursive: true, force: true })));
    await Promise.all(['rootfs', 'upper', 'work'].map((d) => mkdir(path.join(dir, d), { recursive: true })));
    await mountOverlay(rootfs, { lower, upper: path.join(dir, 'upper'), work: path.join(dir, 'work') });
    return rootfs;
  }

  /** Writes the bundle and starts `runc run` as the container's waiter; resolves once it runs. */
  private run(id: string, dir: string, spec: Record<string, unknown>, logFile: string, onExit: ExitHandler): Promise<RunningContainer> {
    return starts.run(() => this.start(id, dir, spec, logFile, onExit));
  }

  private async start(id: string, dir: string, spec: Record<string, unknown>, logFile: string, onExit: ExitHandler): Promise<RunningContainer> {
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    const pidFile = path.join(dir, 'init.pid');
    await rm(pidFile, { force: true });
    let ended: number | null | undefined;
    let pid = 0;
    const waiter = await spawnDetached(this.runc('run', '--bundle', dir, '--pid-file', pidFile, id), {
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      logFile,
      onExit: (code, signal) => {
        ownChildren.delete(pid);
        // runc exits with the container's status (128+N for signal N). Killed itself (signal):
        // the container may live on without its waiter; the kubelet's liveness poll watches it.
        ended = signal ? null : code;
        if (pid) onExit(ended, { id, pid });
      },
    });
    if (waiter === null) throw new StartError(`could not run runc for container ${id}`);
    const deadline = Date.now() + START_TIMEOUT_MS;
    // runc writes the pid file by renaming it into place once the process runs: an inotify watch
    // on the bundle hears it (a poll every 50 ms covers a lost event and the waiter's exit).
    const renamed = watchDir(dir);
    try {
      for (;;) {
        const text = await readFile(pidFile, 'utf8').catch(() => '');
        if (/^\d+$/.test(text.trim())) {
          pid = Number(text.trim());
          break;
        }
        if (ended !== undefined) throw new StartError(await lastError(logFile, id));
        if (Date.now() > deadline) throw new StartError(`runc did not start container ${id} within ${START_TIMEOUT_MS / 1000}s`);
        await renamed.next(50);
      }
    } finally {
      renamed.close();
    }
    // The waiter may have seen the container exit before the pid file was read.
    if (ended !== undefined) setImmediate(() => onExit(ended!, { id, pid }));
    else ownChildren.add(pid);
    return { id, pid };
  }

  private listing: Promise<ListedContainer[]> | null = null;
  private nextListing: Promise<ListedContainer[]> | null = null;

  /**
   * The runtime's containers (`runc list`). Callers at the same moment share one listing: the one
   * running when they ask may predate what they wait for, so they get the next, started as soon as
   * it ends and shared by everyone who asked meanwhile. A thousand pods terminating together (a
   * scale-down) thus cost a couple of listings at a time, not a thousand listings of a thousand
   * containers each in memory at once. Each caller gets its own array (some add to it).
   */
  async listContainers(): Promise<ListedContainer[]> {
    if (!this.listing) {
      this.listing = this.listNow().finally(() => (this.listing = null));
      return [...(await this.listing)];
    }
    this.nextListing ??= this.listing
      .catch(() => undefined)
      .then(() => {
        this.nextListing = null;
        return this.listContainers();
      });
    return [...(await this.nextListing)];
  }

  private async listNow(): Promise<ListedContainer[]> {
    if (!existsSync(this.root)) return [];
    // `runc list` fails when a container's state directory goes while it reads them (a waiter
    // deleting its container as it exits): read again.
    let r = await run(this.runc('list', '--format', 'json'), { allowFail: true });
    for (let i = 0; i < 10 && r.exitCode !== 0 && /no such file or directory/.test(r.stderr); i++) {
      await new Promise((res) => setTimeout(res, 5 * (i + 1)));
      r = await run(this.runc('list', '--format', 'json'), { allowFail: true });
    }
    if (r.exitCode !== 0) throw new Error(`runc list failed: ${r.stderr.trim()}`);
    const stdout = r.stdout;
    const raw = (JSON.parse(stdout || 'null') ?? []) as { id: string; pid: number; status: ListedContainer['status']; annotations?: Record<string, string> }[];
    return raw.map((r) => {
      const a = r.annotations ?? {};
      return {
        id: r.id,
        pid: r.pid,
        status: r.status,
        kind: a[ANNOTATIONS.type] === 'sandbox' ? 'sandbox' : 'container',
        pod: { name: a[ANNOTATIONS.podName] ?? '', namespace: a[ANNOTATIONS.podNamespace] ?? '', uid: a[ANNOTATIONS.podUid] ?? '' },
        name: a[ANNOTATIONS.name] ?? '',
        sandboxId: a[ANNOTATIONS.sandboxId] ?? '',
      };
    });
  }

  async removeContainer(id: string, dir: string): Promise<void> {
    await this.deleteContainer(id);
    await unmount(mountsUnder(path.join(dir, 'rootfs')));
  }

  /** runc's state of the container only (`runc delete --force`): its mounts are the caller's. */
  async deleteContainer(id: string): Promise<void> {
    await run(this.runc('delete', '--force', id), { allowFail: true });
  }

  execArgv(id: string, command: string[], opts: { tty?: boolean } = {}): string[] {
    return this.runc('exec', ...(opts.tty ? ['--tty'] : []), id, ...command);
  }

  /**
   * `kubectl exec -it`'s exec, as containerd's shim runs it: detached, with the process read from
   * `files.process` (terminal: true) and the pty's master sent to `files.socket`; runc exits once
   * the process runs, its PID in `files.pidFile` (src/sys/terminal.ts waits for it).
   */
  execConsoleArgv(id: string, files: { socket: string; pidFile: string; process: string }): string[] {
    return this.runc('exec', '--detach', '--tty', '--console-socket', files.socket, '--pid-file', files.pidFile, '--process', files.process, id);
  }

  /** Every container of the instance gone (`lab down`): runc's state, mounts and cgroups. */
  async removeAll(opts: { cgroups?: boolean } = {}): Promise<string[]> {
    // runc deletes one container per call; the calls run side by side.
    await Promise.all((await this.listContainers()).map((c) => run(this.runc('delete', '--force', c.id), { allowFail: true })));
    await unmount(mountsUnder(this.paths.stateDir));
    // The instance's cgroup tree holds every node's pods: only the last runtime swept removes it.
    if (opts.cgroups === false) return [];
    const busy = removeCgroupTree(instanceCgroup(this.paths.instance));
    removeCgroupIfEmpty(CGROUP_PARENT); // shared by the instances: the last one removes it
    return busy;
  }

  /** The pods' cgroup directories, once their containers are gone. */
  removePodCgroups(pods: PodRef[]): string[] {
    return removeCgroupTrees(pods.map((pod) => podCgroup(this.paths.instance, pod)));
  }
}

/** The cgroup every instance's containers live under, as kubepods under a kubelet's. */
const CGROUP_PARENT = '/packet-path-lab';
const instanceCgroup = (instance: string) => `${CGROUP_PARENT}/${instance}`;
const podCgroup = (instance: string, pod: PodRef) => `${instanceCgroup(instance)}/pod${pod.uid}`;

/** Where a container's cgroup is, under the instance's and the pod's: kubepods/pod<uid>/<id>. */
export function containerCgroupsPath(instance: string, pod: PodRef, id: string): string {
  return `${podCgroup(instance, pod)}/${id}`;
}

/** What a bundle needs besides its config: the container's ID, its mounted root and its cgroup. */
export interface BundlePlace {
  id: string;
  rootfs: string;
  cgroupsPath: string;
}

/** config.json of a pod's sandbox: the pause image's entrypoint, read-only root, the pod's hostname. */
export function sandboxSpec(c: Pick<SandboxConfig, 'pod' | 'hostname' | 'netnsPath'>, b: BundlePlace): Record<string, unknown> {
  const image = imageConfig(PAUSE_IMAGE)!;
  return ociSpec({
    args: image.entrypoint ?? [],
    env: envMap(image.env),
    cwd: '/',
    rootfs: b.rootfs,
    readonlyRootfs: true,
    hostname: c.hostname,
    join: { network: c.netnsPath },
    mounts: [],
    cgroupsPath: b.cgroupsPath,
    annotations: annotations(c.pod, { kind: 'sandbox', sandboxId: b.id, name: '', image: PAUSE_IMAGE }),
  });
}

/** config.json of a container, joining its sandbox's network, IPC and UTS namespaces. */
export function containerSpec(sandbox: RunningContainer, c: Omit<ContainerConfig, 'dir'>, b: BundlePlace): Record<string, unknown> {
  return ociSpec({
    args: c.args,
    env: c.env,
    cwd: c.cwd,
    securityContext: c.securityContext,
    rootfs: b.rootfs,
    join: { network: procNamespacePath(sandbox.pid, 'net'), ipc: procNamespacePath(sandbox.pid, 'ipc'), uts: procNamespacePath(sandbox.pid, 'uts') },
    mounts: c.mounts,
    cgroupsPath: b.cgroupsPath,
    annotations: annotations(c.pod, { kind: 'container', sandboxId: sandbox.id, name: c.name, image: c.image }),
  });
}

/** An image's "K=V" environment as a map. */
export function envMap(env: string[]): Record<string, string> {
  return Object.fromEntries(env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

function annotations(pod: PodRef, c: { kind: 'sandbox' | 'container'; sandboxId: string; name: string; image: string }): Record<string, string> {
  return {
    [ANNOTATIONS.type]: c.kind,
    [ANNOTATIONS.sandboxId]: c.sandboxId,
    [ANNOTATIONS.podName]: pod.name,
    [ANNOTATIONS.podNamespace]: pod.namespace,
    [ANNOTATIONS.podUid]: pod.uid,
    ...(c.name ? { [ANNOTATIONS.name]: c.name } : {}),
    [ANNOTATIONS.image]: c.image,
  };
}

const runtimes = new Map<string, RuncRuntime>();

/** The instance's container runtime. */
export function runtimeFor(paths: InstancePaths): RuncRuntime {
  let r = runtimes.get(paths.stateDir);
  if (!r) runtimes.set(paths.stateDir, (r = new RuncRuntime(paths)));
  return r;
}

/**
 * Every node's runtime this machine holds: the server's node, and in the sandbox each agent's
 * (their machines share this file system, each with its own runc root: agentPaths).
 */
export function nodeRuntimes(paths: InstancePaths): RuncRuntime[] {
  let agents: string[] = [];
  try {
    agents = readdirSync(agentsDir(paths));
  } catch {
    // no agents
  }
  return [runtimeFor(paths), ...agents.sort().map((n) => runtimeFor(agentPaths(paths.instance, n)))];
}

/** The listed containers of every node's runtime, each with the runtime that runs it (the learner's tools). */
export async function listAllNodes(paths: InstancePaths): Promise<{ runtime: RuncRuntime; container: ListedContainer }[]> {
  const lists = await Promise.all(nodeRuntimes(paths).map(async (runtime) => (await runtime.listContainers().catch(() => [])).map((container) => ({ runtime, container }))));
  return lists.flat();
}

/** A container ID as containerd makes them: 64 hex digits. */
/** A container or sandbox ID as containerd makes them: 64 hex digits. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

/** runc's own error for a container that did not start: the last line it logged. */
async function lastError(logFile: string, id: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const line = text.trim().split('\n').reverse().find((l) => /runc|error|exec/i.test(l));
  return line ? line.replace(/^time="[^"]*" level=\w+ msg="?/, '').replace(/"$/, '') : `container ${id} exited before it started`;
}

/** Wakes `next()` when an entry of `dir` changes, or after `ms` at the latest. */
function watchDir(dir: string): { next(ms: number): Promise<void>; close(): void } {
  let wake: (() => void) | null = null;
  let changed = false;
  const watcher = watch(dir, () => {
    changed = true;
    wake?.();
  });
  watcher.on('error', () => {}); // the poll goes on
  return {
    next: (ms) =>
      new Promise<void>((resolve) => {
        if (changed) {
          changed = false;
          return resolve();
        }
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = null;
          changed = false;
          resolve();
        }
        wake = done;
      }),
    close: () => watcher.close(),
  };
}

/** The runtime's name and version as a Node's status.nodeInfo.containerRuntimeVersion reports it ("runc://1.1.5"). */
export async function runtimeVersion(): Promise<string> {
  const { stdout } = await run(['runc', '--version']);
  // "runc version 1.1.5\ncommit: ...\nspec: 1.0.2-dev\n..."
  const v = /^runc version (\S+)/m.exec(stdout)?.[1];
  if (!v) throw new Error(`runc --version: unexpected output ${JSON.stringify(stdout.split('\n')[0])}`);
  return `runc://${v}`;
}
