// The kubelet of one node: turns the pods scheduled here into pod sandboxes (netns + CNI) and
// running containers, and tears down pods that are gone. Batches the network work for all pods.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ClusterConfig, ConfigMap, Container, ContainerStatus, Pod } from '../api/types.ts';
import { restartDelay, shouldRestart } from './backoff.ts';
import { allocate, release, releaseAllExcept } from '../cni/allocations.ts';
import { applyCniAdd, cniDel, planCniAdd, readConfigured, vethName, type PodNetwork } from '../cni/bridge.ts';
import type { InstancePaths } from '../node/instance.ts';
import type { LabNode } from '../node/node.ts';
import { listNetns, observeLinks, pidsInNetns } from '../sys/ip.ts';
import { isRunning, listPids, procCmdline, procRoot, procStat, signalProcess } from '../sys/proc.ts';
import { containerMounts, writePodEtc, writeVolumes } from './podfiles.ts';
import { CONTAINER_INIT, isContainerAlive, startContainer } from './runtime.ts';

export interface KubeletContext {
  node: LabNode;
  paths: InstancePaths;
  config: ClusterConfig;
  configMaps: Map<string, ConfigMap>;
  /** Called for each event worth showing (`lab events`). */
  onEvent?: (pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string) => void;
  onProgress?: (message: string) => void;
  /** A container this process started has exited (exit code, or the signal that killed it). */
  onContainerExit?: (pod: Pod, container: string, pid: number, code: number | null, signal: NodeJS.Signals | null) => void;
}

export const NETNS_ANNOTATION = 'lab/netns';
export const VETH_ANNOTATION = 'lab/veth';

export function podNetns(pod: Pod): string {
  return pod.metadata.annotations[NETNS_ANNOTATION]!;
}

/** Fills in the sandbox identity (netns, veth) of new pods; pure. */
export function assignSandbox(pod: Pod, paths: InstancePaths): void {
  const netns = pod.metadata.annotations[NETNS_ANNOTATION] ?? paths.podNetns(pod.metadata.name);
  pod.metadata.annotations[NETNS_ANNOTATION] = netns;
  pod.metadata.annotations[VETH_ANNOTATION] ??= vethName(netns);
}

/** Brings every pod in `pods` (all scheduled on this node) to Running. Mutates their status. */
export async function syncPods(ctx: KubeletContext, pods: Pod[]): Promise<void> {
  if (pods.length === 0) return;
  const { node, paths } = ctx;
  pods.forEach((p) => assignSandbox(p, paths));

  // IPAM (host-local): one address per pod, kept across restarts. Addresses of pods that no
  // longer exist (a DEL interrupted by a crash) are collected first.
  await releaseAllExcept(paths.ipamDir, new Set(pods.map(podNetns)));
  const ips = await allocate(paths.ipamDir, { subnet: node.podCIDR, gateway: node.gateway }, pods.map(podNetns));
  for (const p of pods) {
    p.status.podIP = ips.get(podNetns(p));
    p.status.hostIP = node.nodeIP;
    p.spec.nodeName = node.name;
  }

  // CNI ADD for all pods at once.
  const nets: PodNetwork[] = pods.map((p) => ({ netns: podNetns(p), veth: p.metadata.annotations[VETH_ANNOTATION]!, ip: p.status.podIP! }));
  const plan = planCniAdd(node, nets, { netns: new Set(listNetns()), nodeLinks: await observeLinks(node.netns), configured: await readConfigured(paths.stateDir) });
  if (plan.node.length) ctx.onProgress?.(`network: ${plan.netnsAdd.length} pod namespaces, ${plan.pod.size} veth pairs on cni0`);
  await applyCniAdd(node, plan, paths.stateDir);

  // Files and containers, pods in parallel.
  await Promise.all(pods.map((p) => syncPodContainers(ctx, p)));
}

async function syncPodContainers(ctx: KubeletContext, pod: Pod): Promise<void> {
  const netns = podNetns(pod);
  const [, sources] = await Promise.all([writePodEtc(ctx.paths.netnsEtc(netns), pod, ctx.config), writeVolumes(ctx.paths.podDir(pod.metadata.name), pod, ctx.configMaps)]);
  pod.status.startTime ??= new Date().toISOString();
  const now = Date.now();
  const statuses: ContainerStatus[] = [];
  for (const c of pod.spec.containers) {
    const prev = pod.status.containerStatuses.find((s) => s.name === c.name);
    // Running, or waiting out its restart backoff, or finished for good: leave it as it is.
    if (prev && (isContainerAlive(prev.pid, netns) || (prev.backoff?.until ?? 0) > now || prev.state.terminated)) {
      statuses.push(prev);
      continue;
    }
    // A controller killed between starting a container and recording its pid left it running
    // unrecorded: adopt it (by its root directory, or its arguments while it is still starting)
    // rather than start a second one.
    const cdir = path.join(ctx.paths.podDir(pod.metadata.name), 'containers', c.name);
    const procs = existsSync(cdir) ? containerProcessesUnder(cdir) : undefined;
    const orphan = procs && (procs.rooted.find((pid) => isContainerAlive(pid, netns) && isMainProcess(pid)) ?? procs.starting[0]);
    if (orphan && (!prev || !isContainerAlive(prev.pid, netns))) {
      statuses.push({ name: c.name, ready: !c.readinessProbe && !c.startupProbe, started: !c.startupProbe, restartCount: prev?.restartCount ?? 0, pid: orphan, state: { running: { startedAt: new Date().toISOString() } }, backoff: { crashes: prev?.backoff?.crashes ?? 0, lastStart: Date.now() } });
      ctx.onEvent?.(pod, 'Normal', 'Adopted', `Adopted running container ${c.name}`);
      continue;
    }
    statuses.push(await startPodContainer(ctx, pod, c, prev, sources));
  }
  pod.status.containerStatuses = statuses;
  updatePodStatus(pod);
}

/**
 * Starts one container of a pod and returns its new status (restart count carried over).
 * `volumes` (volume name -> directory) when the pod's volumes were just written, else written here.
 */
export async function startPodContainer(ctx: KubeletContext, pod: Pod, c: Container, prev: ContainerStatus | undefined, volumes?: Map<string, string>): Promise<ContainerStatus> {
  const netns = podNetns(pod);
  const podDir = ctx.paths.podDir(pod.metadata.name);
  const cmVolumes = new Set(pod.spec.volumes.filter((v) => v.configMap).map((v) => v.name));
  const sources = volumes ?? (await writeVolumes(podDir, pod, ctx.configMaps));
  const pid = await startContainer({
    netns,
    hostname: pod.spec.hostname ?? pod.metadata.name,
    etcDir: ctx.paths.netnsEtc(netns),
    containerDir: path.join(podDir, 'containers', c.name),
    imagesDir: ctx.paths.imagesDir,
    container: c,
    mounts: containerMounts(sources, c.volumeMounts, cmVolumes),
    onExit: (code, signal) => ctx.onContainerExit?.(pod, c.name, pid, code, signal),
  });
  const started = prev !== undefined; // a status exists: this is a restart
  ctx.onEvent?.(pod, 'Normal', 'Started', `Started container ${c.name}`);
  const now = Date.now();
  return {
    name: c.name,
    // Not ready yet: the prober decides, or, without a readiness probe, the controller once it has
    // seen the container still running (Controller.confirmRunning; a one-shot `up` in awaitReadiness).
    ready: false,
    started: !c.startupProbe,
    restartCount: (prev?.restartCount ?? 0) + (started ? 1 : 0),
    pid,
    state: { running: { startedAt: new Date(now).toISOString() } },
    ...(prev?.lastState ? { lastState: prev.lastState } : {}),
    backoff: { crashes: prev?.backoff?.crashes ?? 0, lastStart: now },
  };
}

/**
 * A container exited: record it and decide, per restartPolicy and the backoff, when it starts
 * again. Returns the time to restart at (ms since epoch), or null when it stays down.
 */
export function recordContainerExit(pod: Pod, name: string, exit: { exitCode: number; signal?: number }, now = Date.now()): number | null {
  const st = pod.status.containerStatuses.find((s) => s.name === name);
  if (!st) return null;
  const reason = exit.exitCode === 0 ? 'Completed' : 'Error';
  const terminated = { exitCode: exit.exitCode, ...(exit.signal ? { signal: exit.signal } : {}), reason, finishedAt: new Date(now).toISOString(), ...(st.state.running ? { startedAt: st.state.running.startedAt } : {}) };
  st.lastState = { terminated };
  st.ready = false;
  st.pid = undefined;
  if (!shouldRestart(pod.spec.restartPolicy, exit.exitCode)) {
    st.state = { terminated };
    updatePodStatus(pod);
    return null;
  }
  const { delayMs, next } = restartDelay(st.backoff ?? { crashes: 0, lastStart: 0 }, now);
  st.backoff = { ...next, until: now + delayMs };
  st.state = delayMs > 0 ? { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${delayMs / 1000}s restarting failed container=${name} pod=${pod.metadata.name}_${pod.metadata.namespace}` } } : { waiting: { reason: 'ContainerCreating' } };
  updatePodStatus(pod);
  return now + delayMs;
}

/** Phase and conditions from the container statuses, as the kubelet's status manager does. */
export function updatePodStatus(pod: Pod): void {
  const cs = pod.status.containerStatuses;
  const allTerminated = cs.length > 0 && cs.every((c) => c.state.terminated);
  if (allTerminated) pod.status.phase = cs.every((c) => c.state.terminated!.exitCode === 0) ? 'Succeeded' : 'Failed';
  else if (cs.some((c) => c.state.running)) pod.status.phase = 'Running';
  const ready = cs.length === pod.spec.containers.length && cs.every((c) => c.ready && c.state.running) ? 'True' : 'False';
  pod.status.conditions = [
    { type: 'PodScheduled', status: 'True' },
    { type: 'Initialized', status: 'True' },
    { type: 'ContainersReady', status: ready },
    { type: 'Ready', status: ready },
  ];
}

/** What the kubelet needs to remove a pod: its name, namespace and container main processes. */
export interface PodToRemove {
  name: string;
  netns: string;
  /** Container main processes (recorded pids still alive in the pod's netns). */
  mainPids: number[];
  terminationGracePeriodSeconds: number;
}

export function podToRemove(p: Pod): PodToRemove {
  const netns = podNetns(p);
  return {
    name: p.metadata.name,
    netns,
    mainPids: p.status.containerStatuses.filter((c) => c.pid && isContainerAlive(c.pid, netns)).map((c) => c.pid!),
    terminationGracePeriodSeconds: p.spec.terminationGracePeriodSeconds ?? 30,
  };
}

/**
 * Stops and removes pods: SIGTERM to each container's main process, up to the grace period, then
 * whatever is left in the pods' namespaces; then the network (CNI DEL), IPs and files.
 */
export async function removePods(ctx: Pick<KubeletContext, 'paths'>, pods: PodToRemove[], opts: { graceSeconds?: number } = {}): Promise<void> {
  if (pods.length === 0) return;
  const netnsNames = pods.map((p) => p.netns);
  const grace = Math.min(opts.graceSeconds ?? 30, ...pods.map((p) => p.terminationGracePeriodSeconds));
  // As the kubelet: SIGTERM to each container's main process, then (below) whatever is left.
  // Its children (a web server's per-connection handlers) finish the requests in flight.
  const mains = pods.flatMap((p) => p.mainPids);
  for (const pid of mains) signalProcess(pid, 'SIGTERM');
  const deadline = Date.now() + grace * 1000;
  while (mains.some(isRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await terminateProcesses(netnsNames, Math.min(1, Math.max(0, (deadline - Date.now()) / 1000)));
  await cniDel(netnsNames, ctx.paths.stateDir);
  await release(ctx.paths.ipamDir, new Set(netnsNames));
  await Promise.all([
    ...pods.map((p) => rm(ctx.paths.podDir(p.name), { recursive: true, force: true })),
    ...netnsNames.map((n) => rm(ctx.paths.netnsEtc(n), { recursive: true, force: true })),
  ]);
}

/** Processes of the containers under a directory (a pod's, or all of an instance's pods). */
export interface ContainerProcesses {
  /**
   * Running containers: they chroot into <stateDir>/pods/<pod>/containers/<c>/rootfs, so
   * /proc/<pid>/root names the instance they belong to even when their network namespace is gone
   * (a namespace file can lose its mount, e.g. when `ip netns add` ran in another mount namespace).
   */
  rooted: number[];
  /**
   * Containers still starting: `ip netns exec … container-init.sh <dir>/…/rootfs …` up to the
   * `chroot` (the same PID all along), whose root is not yet under `dir`. A controller killed in
   * that moment leaves one behind. Recognised by their arguments: the init script (or chroot) and
   * a root file system under `dir`.
   */
  starting: number[];
}

/**
 * One pass over /proc for the container processes under `dir`: the kubelet adopts them instead of
 * starting a second container, `lab down` leaves none behind.
 */
export function containerProcessesUnder(dir: string): ContainerProcesses {
  const out: ContainerProcesses = { rooted: [], starting: [] };
  for (const pid of listPids()) {
    const root = procRoot(pid);
    if (root === null) continue; // gone
    if (root.startsWith(dir + '/')) {
      out.rooted.push(pid);
      continue;
    }
    const argv = procCmdline(pid);
    if (argv === null) continue;
    const init = argv.includes(CONTAINER_INIT) || path.basename(argv[0] ?? '') === 'chroot';
    if (init && argv.some((a) => a.startsWith(dir + '/') && a.endsWith('/rootfs')) && isRunning(pid)) out.starting.push(pid);
  }
  return out;
}

/** The container's first process, not one of its children (whose parent is in the same root). */
function isMainProcess(pid: number): boolean {
  const stat = procStat(pid);
  const own = procRoot(pid);
  if (own === null || !stat) return false;
  const parents = procRoot(stat.ppid);
  // The parent's root is not even readable (init, after the controller died): not the container.
  if (parents === null) return true;
  return parents !== own;
}

/** Signals only processes inside our own pod namespaces: never anything by name. */
export async function terminateProcesses(netnsNames: string[], graceSeconds: number): Promise<void> {
  const signalAll = (sig: NodeJS.Signals): number => {
    let n = 0;
    for (const pids of pidsInNetns(netnsNames).values()) {
      for (const pid of pids) {
        try {
          signalProcess(pid, sig);
          n++;
        } catch {
          /* already gone */
        }
      }
    }
    return n;
  };
  if (signalAll('SIGTERM') === 0) return;
  const deadline = Date.now() + graceSeconds * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    if ([...pidsInNetns(netnsNames).values()].every((p) => p.length === 0)) return;
  }
  signalAll('SIGKILL');
  for (let i = 0; i < 40 && [...pidsInNetns(netnsNames).values()].some((p) => p.length > 0); i++) await new Promise((r) => setTimeout(r, 25));
}
