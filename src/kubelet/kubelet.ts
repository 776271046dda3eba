// The kubelet of one node: turns the pods scheduled here into pod sandboxes (netns + CNI + a pause
// container) and running containers, through the container runtime (runtime.ts, as the CRI), and
// tears down pods that are gone. The network of each new sandbox is set up by the CNI plugins
// (src/cni, as containerd's CRI plugin calls them) before its pause container starts.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { isTerminating, type ClusterConfig, type ConfigMap, type Container, type ContainerStatus, type Pod } from '../api/types.ts';
import { restartDelay, shouldRestart } from './backoff.ts';
import { attachmentAddresses, PodNetworks, readAttachments, type CniNode, type PodAttachment } from '../cni/pod-network.ts';
import type { InstancePaths } from '../node/instance.ts';
import type { LabNode } from '../node/node.ts';
import { addNetns, deleteNetns, isPidInNetns, netnsExists } from '../sys/ip.ts';
import { ImageNotFoundError, imageConfig } from './images.ts';
import { containerArgs } from './oci.ts';
import { containerMounts, volumeMountProblem, writePodEtc, writeVolumes } from './podfiles.ts';
import { envMap, newId, runtimeFor, StartError } from './runc.ts';
import { isContainerAlive, type ListedContainer, type Mount, type PodRef, type RunningContainer } from './runtime.ts';
import { bundleDir, removeContainersOf, type PodToRemove } from './teardown.ts';

export interface KubeletContext {
  node: LabNode;
  paths: InstancePaths;
  config: ClusterConfig;
  configMaps: Map<string, ConfigMap>;
  /** Called for each event worth showing (`lab events`). */
  onEvent?: (pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string) => void;
  onProgress?: (message: string) => void;
  /** A container this process started has exited, with its status (128+N for signal N). */
  onContainerExit?: (pod: Pod, container: string, pid: number, code: number) => void;
  /** The pod's sandbox (pause container) this process started has exited. */
  onSandboxExit?: (pod: Pod) => void;
}

export const NETNS_ANNOTATION = 'lab/netns';
/** The host end of the pod's veth pair, as the bridge plugin named it (its ADD result). */
export const VETH_ANNOTATION = 'lab/veth';
/** The sandbox's ID: the CNI_CONTAINERID of its network's ADD, and its pause container's ID. */
export const SANDBOX_ANNOTATION = 'lab/sandbox-id';
/** The runtime's name in containerStatuses[].containerID ("runc://<id>"). */
export const RUNTIME_NAME = 'runc';

export function podNetns(pod: Pod): string {
  return pod.metadata.annotations[NETNS_ANNOTATION]!;
}

export function podRef(pod: Pod): PodRef {
  return { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid ?? pod.metadata.name };
}

/** Fills in the sandbox's network namespace name of new pods; pure. */
export function assignSandbox(pod: Pod, paths: InstancePaths): void {
  pod.metadata.annotations[NETNS_ANNOTATION] ??= paths.podNetns(pod.metadata.name);
}

/** The node whose CNI plugins the kubelet runs (in its namespace, with its files). */
export function cniNode(ctx: Pick<KubeletContext, 'node' | 'paths'>): CniNode {
  return { name: ctx.node.name, netns: ctx.node.netns, paths: ctx.paths };
}

/** What the plugins returned, on the kubelet's record of the pod (never written to the API). */
function applyAttachment(pod: Pod, a: PodAttachment, node: LabNode): void {
  const { podIP, veth } = attachmentAddresses(a);
  pod.metadata.annotations[SANDBOX_ANNOTATION] = a.containerId;
  if (veth) pod.metadata.annotations[VETH_ANNOTATION] = veth;
  pod.status.podIP = podIP;
  pod.status.hostIP = node.nodeIP;
  pod.spec.nodeName = node.name;
}

/**
 * Pods that could not be started: their sandbox could not be made (CNI ADD failed) or their
 * volumes cannot be mounted yet (FailedMount); the others of the sync went on.
 */
export class PodSyncError extends Error {
  constructor(readonly failed: Map<string, Error>) {
    super([...failed].map(([pod, e]) => `pod ${pod}: ${e.message}`).join('; '));
  }
}

/** The pod's running sandbox in a listing: its pause container, alive in the pod's namespace. */
function runningSandbox(listed: ListedContainer[], pod: Pod): RunningContainer | undefined {
  const sb = listed.find((c) => c.kind === 'sandbox' && c.pod.name === pod.metadata.name && c.status === 'running' && isContainerAlive(c.pid, podNetns(pod)));
  return sb && { id: sb.id, pid: sb.pid };
}

/**
 * Pods whose sandbox is gone while they were running: the network namespace was deleted (`ip netns
 * del`) or the pause container died. The kubelet kills what is left and makes a new sandbox; the
 * containers start again in it ("Pod sandbox changed, it will be killed and re-created.").
 */
function changedSandboxes(pods: Pod[], listed: ListedContainer[], attached: Map<string, PodAttachment>): Pod[] {
  return pods.filter((p) => {
    if (!p.status.startTime || isTerminating(p)) return false; // never started
    const mine = listed.filter((c) => c.pod.name === p.metadata.name && c.status !== 'stopped');
    if (mine.length === 0 && p.status.containerStatuses.every((s) => !s.pid)) return false; // nothing ran: just start it
    // No cached ADD result: nothing says what its network is (an instance from before the CNI plugins).
    return !netnsExists(podNetns(p)) || !runningSandbox(listed, p) || !attached.has(podNetns(p));
  });
}

/**
 * Brings every pod in `pods` to Running. Mutates their status. `complete`: `pods` are all the pods
 * of this node, so addresses and containers of any other pod are garbage to collect.
 */
/**
 * `onPodSynced`: told of each pod as soon as its own containers have been started (or found
 * running), while the others of the batch still start: the kubelet's status manager writes a pod's
 * status as its pod worker finishes, not when the whole batch is done.
 */
export async function syncPods(ctx: KubeletContext, pods: Pod[], opts: { complete?: boolean; onPodSynced?: (pod: Pod) => Promise<void> } = {}): Promise<void> {
  const complete = opts.complete ?? true;
  const { node, paths } = ctx;
  const runtime = runtimeFor(paths);
  pods.forEach((p) => assignSandbox(p, paths));
  let listed = await runtime.listContainers();

  if (complete) {
    // Containers of pods that no longer exist (a deletion interrupted by a crash): removed.
    const names = new Set(pods.map((p) => p.metadata.name));
    const orphans = listed.filter((c) => !names.has(c.pod.name));
    if (orphans.length) await removeContainersOf(paths, [...new Set(orphans.map((c) => c.pod.name))].map((name) => ({ name, grace: 0 })), listed);
  }
  // Terminating pods keep their addresses and containers until their pod workers are done with them.
  const all = pods;
  pods = pods.filter((p) => !isTerminating(p));
  const networks = await PodNetworks.load(cniNode(ctx));
  if (complete) {
    // CNI state of sandboxes no pod here has (a DEL or an ADD cut short by a crash): deleted
    // through the plugins, so host-local gives the addresses back.
    const collected = await networks.collectGarbage(new Set(all.map(podNetns)));
    if (collected.length) ctx.onProgress?.(`network: deleted the CNI state of ${collected.length} gone sandbox(es): ${collected.join(', ')}`);
  }
  if (pods.length === 0) return;
  const attached = new Map((await readAttachments(paths, node.name)).map((a) => [a.netns, a]));

  // Volumes first, as the kubelet waits for them before it makes the sandbox: a pod whose
  // ConfigMap is not there yet gets FailedMount and is tried again (when it appears, or after a
  // while), its containers not started.
  const failed = new Map<string, Error>();
  for (const p of pods) {
    const problem = volumeMountProblem(p, ctx.configMaps);
    if (!problem) continue;
    failed.set(p.metadata.name, new Error(problem));
    ctx.onEvent?.(p, 'Warning', 'FailedMount', problem);
  }
  if (failed.size) pods = pods.filter((p) => !failed.has(p.metadata.name));

  const changed = changedSandboxes(pods, listed, attached);
  if (changed.length) {
    for (const p of changed) ctx.onEvent?.(p, 'Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
    await removeContainersOf(paths, changed.map((p) => ({ name: p.metadata.name, grace: 0 })), listed);
    // CNI DEL, then the namespace: the new sandbox gets a new ID, namespace and address, as with
    // host-local on a real node (the old address would stay in the neighbour caches with the old
    // veth's MAC).
    await networks.tearDownNetns(changed.map(podNetns));
    await deleteNetns(changed.map(podNetns));
    for (const p of changed) {
      attached.delete(podNetns(p));
      p.status.podIP = undefined;
      for (const st of p.status.containerStatuses) {
        if (st.pid) st.lastState = { terminated: { exitCode: 137, signal: 9, reason: 'Error', finishedAt: new Date().toISOString(), ...(st.state.running ? { startedAt: st.state.running.startedAt } : {}) } };
        st.pid = undefined;
        st.ready = false;
        st.backoff = { crashes: st.backoff?.crashes ?? 0, lastStart: st.backoff?.lastStart ?? 0 };
        st.state = { waiting: { reason: 'ContainerCreating' } };
      }
    }
    listed = await runtime.listContainers();
  }

  // New sandboxes: a namespace each, then CNI ADD. A namespace without a cached result is what an
  // ADD cut short left (its eth0 may be in it): made again.
  const fresh = pods.filter((p) => !attached.has(podNetns(p)));
  await deleteNetns(fresh.map(podNetns).filter(netnsExists));
  // The pod's directory before its namespace: whoever looks for what the kubelet made (`lab down`,
  // a restarted kubelet's orphan scan) finds the pod by it even if the server is killed before any
  // CNI result is cached.
  await Promise.all(fresh.map((p) => mkdir(paths.podDir(p.metadata.name), { recursive: true })));
  await addNetns(fresh.map(podNetns));
  if (fresh.length) ctx.onProgress?.(`network: ${fresh.length} pod sandboxes, CNI ADD to ${networks.describe() || 'the default network'} and cni-loopback`);

  // Each pod's network, then its containers, pods in parallel (a few ADDs at a time, runc's own
  // limit on starts): a pod's containers start as soon as its own network is there.
  let added = 0;
  await Promise.all(
    pods.map(async (p) => {
      let a = attached.get(podNetns(p));
      if (!a) {
        try {
          a = await networks.setUp({ name: p.metadata.name, namespace: p.metadata.namespace, uid: podRef(p).uid, netns: podNetns(p) }, newId());
        } catch (e) {
          failed.set(p.metadata.name, e as Error);
          ctx.onEvent?.(p, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: rpc error: code = Unknown desc = ${(e as Error).message}`);
          await deleteNetns([podNetns(p)]);
          return;
        } finally {
          if (++added === fresh.length) ctx.onProgress?.(`network: CNI ADD done for ${fresh.length} pod sandboxes${failed.size ? ` (${failed.size} failed)` : ''}`);
        }
      }
      applyAttachment(p, a, node);
      await syncPodContainers(ctx, p, listed);
      await opts.onPodSynced?.(p);
    }),
  );
  if (failed.size) throw new PodSyncError(failed);
}

/** The pod's sandbox, started when it has none running (RunPodSandbox). */
async function ensureSandbox(ctx: KubeletContext, pod: Pod, listed: ListedContainer[]): Promise<RunningContainer> {
  const running = runningSandbox(listed, pod);
  if (running) return running;
  const runtime = runtimeFor(ctx.paths);
  // A dead sandbox of this pod (pause killed): removed first.
  for (const c of listed.filter((x) => x.kind === 'sandbox' && x.pod.name === pod.metadata.name)) await runtime.removeContainer(c.id, bundleDir(ctx.paths, c));
  const sb = await runtime.runPodSandbox({
    id: pod.metadata.annotations[SANDBOX_ANNOTATION],
    pod: podRef(pod),
    hostname: pod.spec.hostname ?? pod.metadata.name,
    netnsPath: `/run/netns/${podNetns(pod)}`,
    dir: path.join(ctx.paths.podDir(pod.metadata.name), 'sandbox'),
  }, () => ctx.onSandboxExit?.(pod));
  listed.push({ ...sb, status: 'running', kind: 'sandbox', pod: podRef(pod), name: '', sandboxId: sb.id });
  return sb;
}

async function syncPodContainers(ctx: KubeletContext, pod: Pod, listed: ListedContainer[]): Promise<void> {
  const netns = podNetns(pod);
  const [, sources] = await Promise.all([writePodEtc(ctx.paths.netnsEtc(netns), pod, ctx.config, ctx.node.mode), writeVolumes(ctx.paths.podDir(pod.metadata.name), pod, ctx.configMaps)]);
  pod.status.startTime ??= new Date().toISOString();
  const now = Date.now();
  const statuses: ContainerStatus[] = [];
  for (const c of pod.spec.containers) {
    const prev = pod.status.containerStatuses.find((s) => s.name === c.name);
    // Running, or waiting out its restart backoff, or finished for good: leave it as it is.
    if (prev && (isContainerAlive(prev.pid, netns) || (prev.backoff?.until ?? 0) > now || (prev.state.terminated && !shouldRestart(pod.spec.restartPolicy, prev.state.terminated.exitCode)))) {
      statuses.push(prev);
      continue;
    }
    // A controller killed between starting a container and recording it left it running
    // unrecorded: adopt it from the runtime's list rather than start a second one.
    const orphan = listed.find((x) => x.kind === 'container' && x.pod.name === pod.metadata.name && x.name === c.name && x.status === 'running' && isPidInNetns(x.pid, netns));
    if (orphan) {
      statuses.push({ name: c.name, ready: false, started: !c.startupProbe, restartCount: prev?.restartCount ?? 0, containerID: `${RUNTIME_NAME}://${orphan.id}`, pid: orphan.pid, state: { running: { startedAt: new Date().toISOString() } }, backoff: { crashes: prev?.backoff?.crashes ?? 0, lastStart: Date.now() } });
      ctx.onEvent?.(pod, 'Normal', 'Adopted', `Adopted running container ${c.name}`);
      continue;
    }
    statuses.push(await startPodContainer(ctx, pod, c, prev, sources, listed));
  }
  pod.status.containerStatuses = statuses;
  updatePodStatus(pod);
}

/** Environment of a container: the image's, the kubelet's HOSTNAME, then the manifest's. */
function containerEnv(pod: Pod, c: Container): Record<string, string> {
  const env: Record<string, string> = { ...envMap(imageConfig(c.image)?.env ?? []), HOSTNAME: pod.spec.hostname ?? pod.metadata.name, HOME: '/root' };
  for (const e of c.env) env[e.name] = e.value;
  return env;
}

/** /etc/hosts, /etc/resolv.conf and /etc/hostname, bind-mounted as the kubelet and containerd do. */
function etcMounts(etcDir: string): Mount[] {
  return ['hosts', 'resolv.conf', 'hostname'].map((f) => ({ source: path.join(etcDir, f), target: `/etc/${f}`, readOnly: false }));
}

/**
 * Starts one container of a pod and returns its new status (restart count carried over).
 * `volumes` (volume name -> directory) when the pod's volumes were just written, else written here.
 * A container that cannot start (unknown image, no such executable) gets a waiting status with
 * its backoff, as Kubernetes shows ErrImagePull or a StartError.
 */
export async function startPodContainer(ctx: KubeletContext, pod: Pod, c: Container, prev: ContainerStatus | undefined, volumes?: Map<string, string>, listed?: ListedContainer[]): Promise<ContainerStatus> {
  const runtime = runtimeFor(ctx.paths);
  const podDir = ctx.paths.podDir(pod.metadata.name);
  // ConfigMap and downwardAPI volumes are always mounted read-only in Kubernetes.
  const roVolumes = new Set(pod.spec.volumes.filter((v) => v.configMap || v.downwardAPI).map((v) => v.name));
  const sources = volumes ?? (await writeVolumes(podDir, pod, ctx.configMaps));
  const sandbox = await ensureSandbox(ctx, pod, listed ?? (await runtime.listContainers()));
  const restart = prev !== undefined && (prev.pid !== undefined || prev.lastState !== undefined || prev.containerID !== undefined);
  const now = Date.now();
  try {
    const sc = c.securityContext;
    // The kubelet's own check before it creates the container (verifyRunAsNonRoot).
    if (sc?.runAsNonRoot && (sc.runAsUser ?? 0) === 0) throw new ContainerConfigError(`container has runAsNonRoot and image will run as root (pod: "${pod.metadata.name}_${pod.metadata.namespace}(${podRef(pod).uid})", container: ${c.name})`);
    let mounts: Mount[];
    try {
      mounts = containerMounts(sources, c.volumeMounts, roVolumes, c.name);
    } catch (e) {
      throw new ContainerConfigError((e as Error).message);
    }
    const started = await runtime.startContainer(
      sandbox,
      {
        pod: podRef(pod),
        name: c.name,
        image: c.image,
        args: containerArgs(c, imageConfig(c.image)),
        env: containerEnv(pod, c),
        cwd: c.workingDir ?? '/',
        mounts: [...etcMounts(ctx.paths.netnsEtc(podNetns(pod))), ...mounts],
        securityContext: sc,
        dir: path.join(podDir, 'containers', c.name),
      },
      (code, exited) => {
        // null: its waiter was killed, the container may live on (the liveness poll watches it).
        if (code !== null) ctx.onContainerExit?.(pod, c.name, exited.pid, code);
      },
    );
    const pid = started.pid;
    ctx.onEvent?.(pod, 'Normal', 'Started', `Started container ${c.name}`);
    return {
      name: c.name,
      // Not ready yet: the prober decides, or, without a readiness probe, the controller once it has
      // seen the container still running (Controller.confirmRunning; a one-shot `up` in awaitReadiness).
      ready: false,
      started: !c.startupProbe,
      restartCount: (prev?.restartCount ?? 0) + (restart ? 1 : 0),
      containerID: `${RUNTIME_NAME}://${started.id}`,
      pid,
      state: { running: { startedAt: new Date(now).toISOString() } },
      ...(prev?.lastState ? { lastState: prev.lastState } : {}),
      backoff: { crashes: prev?.backoff?.crashes ?? 0, lastStart: now },
    };
  } catch (e) {
    if (!(e instanceof ImageNotFoundError) && !(e instanceof StartError) && !(e instanceof ContainerConfigError)) throw e;
    const imageErr = e instanceof ImageNotFoundError;
    const configErr = e instanceof ContainerConfigError;
    ctx.onEvent?.(pod, 'Warning', 'Failed', imageErr ? `Failed to pull image "${c.image}": ${e.message}` : configErr ? `Error: ${e.message}` : `Error: failed to start container "${c.name}": ${e.message}`);
    const { delayMs, next } = restartDelay(prev?.backoff ?? { crashes: 0, lastStart: 0 }, now);
    const reason = imageErr ? (prev?.state.waiting?.reason === 'ErrImagePull' || prev?.state.waiting?.reason === 'ImagePullBackOff' ? 'ImagePullBackOff' : 'ErrImagePull') : configErr ? 'CreateContainerConfigError' : 'RunContainerError';
    return {
      name: c.name,
      ready: false,
      started: false,
      restartCount: prev?.restartCount ?? 0,
      state: { waiting: { reason, message: e.message } },
      ...(prev?.lastState ? { lastState: prev.lastState } : {}),
      // lastStart is this attempt: restartDelay resets the backoff 10 minutes after lastStart, and
      // a container that never started (lastStart 0) would otherwise be reset at every attempt and
      // retried every second forever instead of after 10, 20, 40 ... 300 s.
      backoff: { ...next, lastStart: now, until: now + Math.max(delayMs, 1000) },
    };
  }
}

/** The container's configuration cannot be used (a subPath outside its volume, runAsNonRoot as root). */
class ContainerConfigError extends Error {}


/**
 * A container exited: record it and decide, per restartPolicy and the backoff, when it starts
 * again. Returns the time to restart at (ms since epoch), or null when it stays down.
 */
export function recordContainerExit(pod: Pod, name: string, exit: { exitCode: number; signal?: number }, now = Date.now(), opts: { terminatedUntilRestart?: boolean } = {}): number | null {
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
  // Restarted at once: until then the container is what it is, terminated (kubectl: Error or
  // Completed), as the kubelet controller reports it; after repeated crashes it waits out its
  // back-off (CrashLoopBackOff). The state-file controller (lab.ts) shows ContainerCreating.
  st.state = delayMs > 0 ? { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${delayMs / 1000}s restarting failed container=${name} pod=${pod.metadata.name}_${pod.metadata.namespace}` } } : opts.terminatedUntilRestart ? { terminated } : { waiting: { reason: 'ContainerCreating' } };
  updatePodStatus(pod);
  return now + delayMs;
}

/** Phase and conditions from the container statuses, as the kubelet's status manager does. */
export function updatePodStatus(pod: Pod): void {
  const cs = pod.status.containerStatuses;
  // Succeeded or Failed only once no container will run again (restartPolicy): a crashed
  // container about to restart leaves the pod Running, as the kubelet's status manager has it.
  const allTerminated = cs.length > 0 && cs.every((c) => c.state.terminated && !shouldRestart(pod.spec.restartPolicy, c.state.terminated.exitCode));
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

export function podToRemove(p: Pod): PodToRemove {
  return { name: p.metadata.name, netns: podNetns(p), uid: podRef(p).uid, terminationGracePeriodSeconds: p.spec.terminationGracePeriodSeconds ?? 30 };
}

export { removePods, type PodToRemove } from './teardown.ts';
