// The pod status the kubelet writes to the API (pods/<name>/status), computed from its own record
// of the pod, as v1.32's kubelet generateAPIPodStatus and the status manager make it: phase;
// conditions in the kubelet's order (PodReadyToStartContainers, Initialized, Ready,
// ContainersReady, PodScheduled), each lastTransitionTime moved only when its status changes;
// host and pod addresses; startTime; qosClass (the API server's); containerStatuses sorted by name
// with the runtime's image, imageID and "runc://<id>", the state with kube's reasons, lastState,
// ready, started and restartCount. Never the kubelet's private fields (pid, backoff). Pure.
import type { ContainerState, ContainerStatus, Pod } from '../api/types.ts';
import { normalizeReference } from './images.ts';

type Obj = Record<string, unknown>;

export interface PodCondition {
  type: string;
  status: 'True' | 'False';
  lastProbeTime: null;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
}

export interface StatusInput {
  nodeIP: string;
  /** RFC 3339 time of this computation (a transition's time). */
  now: string;
  /** Repository ("docker.io/library/busybox") -> image ID ("sha256:<hex>") of the images built on this node. */
  imageIDs?: Map<string, string>;
}

/** How the runtime names an image: "busybox" -> "docker.io/library/busybox:latest". */
export function runtimeImage(image: string): string {
  const n = normalizeReference(image);
  return n ? `${n.repository}:${n.tag}` : image;
}

function imageID(image: string, ids: Map<string, string> | undefined): string {
  const n = normalizeReference(image);
  const id = n && ids?.get(n.repository);
  return n && id ? `${n.repository}@${id}` : '';
}

/** A container state as the API shows it: terminated names its container; the lab's signal is not a kube field. */
function apiState(s: ContainerState | undefined, containerID: string | undefined): Obj {
  if (!s) return {};
  if (s.running) return { running: { startedAt: s.running.startedAt } };
  if (s.waiting) return { waiting: { reason: s.waiting.reason, ...(s.waiting.message ? { message: s.waiting.message } : {}) } };
  if (s.terminated) {
    const t = s.terminated;
    return { terminated: { exitCode: t.exitCode, reason: t.reason, ...(t.startedAt ? { startedAt: t.startedAt } : {}), finishedAt: t.finishedAt, ...(containerID ? { containerID } : {}) } };
  }
  return {};
}

export function apiContainerStatuses(pod: Pod, imageIDs?: Map<string, string>): Obj[] {
  const byName = new Map(pod.status.containerStatuses.map((s) => [s.name, s]));
  return [...pod.spec.containers]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((c) => {
      const s: ContainerStatus | undefined = byName.get(c.name);
      const lastContainerID = s?.lastState?.terminated ? s.containerID : undefined;
      return {
        ...(s?.containerID && !s.state.waiting ? { containerID: s.containerID } : {}),
        image: runtimeImage(c.image),
        imageID: s?.containerID ? imageID(c.image, imageIDs) : '',
        lastState: apiState(s?.lastState, lastContainerID),
        name: c.name,
        ready: Boolean(s?.ready && s.state.running),
        restartCount: s?.restartCount ?? 0,
        started: Boolean(s?.started && s.state.running),
        state: s ? apiState(s.state, s.containerID) : { waiting: { reason: 'ContainerCreating' } },
      };
    });
}

/** One condition, keeping the previous lastTransitionTime when the status did not change. */
function condition(type: string, ok: boolean, now: string, previous: PodCondition[], why?: { reason: string; message: string }): PodCondition {
  const status = ok ? 'True' : 'False';
  const prev = previous.find((c) => c.type === type);
  return { type, status, lastProbeTime: null, lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : now, ...(!ok && why ? why : {}) };
}

/** Phase as the kubelet's getPhase: Pending until every container has run, Running, then Succeeded or Failed. */
export function podPhase(pod: Pod): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  const cs = pod.spec.containers.map((c) => pod.status.containerStatuses.find((s) => s.name === c.name));
  const running = cs.filter((s) => s?.state.running).length;
  const terminated = cs.filter((s) => s?.state.terminated);
  const waitingAfterRun = cs.filter((s) => s?.state.waiting && s.lastState?.terminated).length;
  const pending = cs.length - running - terminated.length - waitingAfterRun;
  if (pending > 0) return 'Pending';
  if (running > 0 || waitingAfterRun > 0) return 'Running';
  if (terminated.length === cs.length && pod.spec.restartPolicy !== 'Always') return terminated.every((s) => s!.state.terminated!.exitCode === 0) ? 'Succeeded' : 'Failed';
  return 'Running';
}

/**
 * The status to write, from the kubelet's record and the status the API has now (for the
 * transition times, the scheduler's PodScheduled and the API server's qosClass).
 */
export function apiPodStatus(pod: Pod, current: Obj | undefined, input: StatusInput): Obj {
  const previous = ((current?.conditions as PodCondition[] | undefined) ?? []).filter((c) => c && typeof c.type === 'string');
  const containers = apiContainerStatuses(pod, input.imageIDs);
  const unready = containers.filter((c) => !c.ready).map((c) => c.name as string);
  const notReady = { reason: 'ContainersNotReady', message: `containers with unready status: [${unready.join(' ')}]` };
  const sandbox = Boolean(pod.status.podIP);
  const conditions = [
    condition('PodReadyToStartContainers', sandbox, input.now, previous),
    condition('Initialized', true, input.now, previous),
    condition('Ready', unready.length === 0, input.now, previous, notReady),
    condition('ContainersReady', unready.length === 0, input.now, previous, notReady),
    condition('PodScheduled', true, input.now, previous),
  ];
  const ip = pod.status.podIP;
  return {
    phase: podPhase(pod),
    conditions,
    hostIP: input.nodeIP,
    hostIPs: [{ ip: input.nodeIP }],
    ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}),
    ...(pod.status.startTime ? { startTime: pod.status.startTime } : {}),
    ...(current?.qosClass ? { qosClass: current.qosClass } : {}),
    containerStatuses: containers,
  };
}

/** The fields the kubelet owns, compared: a write only when one of them changed. */
export function sameStatus(a: Obj | undefined, b: Obj | undefined): boolean {
  return JSON.stringify(canonical(a ?? {})) === JSON.stringify(canonical(b ?? {}));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const o = v as Obj;
    return Object.fromEntries(Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => [k, canonical(o[k])]));
  }
  return v;
}
