// The learner's tools (describe, trace, tcpdump, exec, events) of an instance run by its server
// read the cluster from its kine store, as `sqlite3 server/db/state.db` would, and see it in the
// shape they were written for (ClusterView, src/trace/view.ts): pods, Services and Endpoints from the
// API's objects, each running container's process found through the runtime by the containerID
// the kubelet wrote, each pod's veth from its cached CNI result, events from the Event objects. Read-only: nothing here writes the store.
import { existsSync } from 'node:fs';
import { endpointsFromApi, serviceFromApi, type ApiObject } from '../api/convert.ts';
import { OWNER_DEPLOYMENT_ANNOTATION } from '../api/owners.ts';
import type { LabEvent, ClusterView } from './view.ts';
import type { ContainerStatus, Pod, PodStatus } from '../api/types.ts';
import { attachmentAddresses, readAllAttachments } from '../cni/pod-network.ts';
import { SANDBOX_ANNOTATION, VETH_ANNOTATION } from '../kubelet/kubelet.ts';
import { toInternalPod, type ApiPod } from '../kubelet/pod-convert.ts';
import { listAllNodes } from '../kubelet/runc.ts';
import { containerIdOf } from '../kubelet/runtime.ts';
import { agentPaths, agentsDir, type InstancePaths } from '../node/instance.ts';
import { readdir } from 'node:fs/promises';
import { netnsExists } from '../sys/ip.ts';
import { isNodeName, nodeInfoFromApi } from './nodes.ts';
import type { FlannelNode } from '../flannel/annotations.ts';

type Obj = Record<string, unknown>;

/** The API's pod status in the internal shape, with each running container's pid (pure). */
export function podStatusFromApi(status: Obj | undefined, pids: Map<string, number>): PodStatus {
  const s = status ?? {};
  const containerStatuses = ((s.containerStatuses as Obj[] | undefined) ?? []).map((c): ContainerStatus => {
    const id = containerIdOf(c.containerID as string | undefined);
    const state = (c.state ?? {}) as ContainerStatus['state'];
    const pid = id && state.running ? pids.get(id) : undefined;
    return {
      name: c.name as string,
      ready: Boolean(c.ready),
      started: Boolean(c.started),
      restartCount: (c.restartCount as number | undefined) ?? 0,
      ...(c.containerID ? { containerID: c.containerID as string } : {}),
      ...(pid ? { pid } : {}),
      state,
      ...(c.lastState && Object.keys(c.lastState).length ? { lastState: c.lastState as ContainerStatus['lastState'] } : {}),
    };
  });
  return {
    phase: ((s.phase as string | undefined) ?? 'Pending') as PodStatus['phase'],
    ...(s.podIP ? { podIP: s.podIP as string } : {}),
    ...(s.hostIP ? { hostIP: s.hostIP as string } : {}),
    conditions: ((s.conditions as Obj[] | undefined) ?? []).filter((c) => ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].includes(c.type as string)).map((c) => ({ type: c.type, status: c.status }) as PodStatus['conditions'][number]),
    containerStatuses,
    ...(s.startTime ? { startTime: s.startTime as string } : {}),
  };
}

type OwnerRef = { kind?: string; name?: string; uid?: string; controller?: boolean };
const controllerOf = (o: ApiObject): OwnerRef | undefined => ((o.metadata as Obj).ownerReferences as OwnerRef[] | undefined)?.find((r) => r.controller);

/**
 * The Deployment that owns a pod, through its controlling ReplicaSet (matched by uid), as the
 * tools' `isSystemPod` reads it (the state file's ReplicaSet controller stamped it on the pod as
 * an annotation; in the API the owner references say it). Pure.
 */
export function owningDeployment(pod: ApiObject, replicaSets: ApiObject[]): string | undefined {
  const rsRef = controllerOf(pod);
  if (rsRef?.kind !== 'ReplicaSet') return undefined;
  const rs = replicaSets.find((r) => (r.metadata as Obj).uid === rsRef.uid && r.metadata.namespace === pod.metadata.namespace);
  const dRef = rs && controllerOf(rs);
  return dRef?.kind === 'Deployment' ? dRef.name : undefined;
}

/** An Event object as `lab events` lists one (pure). */
export function labEventFromApi(e: Obj): LabEvent {
  const obj = (e.involvedObject ?? {}) as { kind?: string; name?: string };
  return {
    time: ((e.lastTimestamp ?? e.eventTime ?? (e.metadata as Obj | undefined)?.creationTimestamp ?? '') as string),
    type: (e.type as 'Normal' | 'Warning' | undefined) ?? 'Normal',
    reason: (e.reason as string | undefined) ?? '',
    object: `${(obj.kind ?? '').toLowerCase()}/${obj.name ?? ''}`,
    message: (e.message as string | undefined) ?? '',
  };
}

/**
 * The files of every node of the instance: the server's, and in the sandbox each agent's own
 * directory (`agentPaths`), named by the directories there (only DNS-label names are taken).
 */
export async function allNodePaths(paths: InstancePaths): Promise<InstancePaths[]> {
  const agents = (await readdir(agentsDir(paths)).catch(() => [] as string[])).filter(isNodeName).sort();
  return [paths, ...agents.map((n) => agentPaths(paths.instance, n))];
}

/** Every node's cached CNI results (the server's and each agent's), by network namespace name. */
export async function readClusterAttachments(paths: InstancePaths): Promise<Awaited<ReturnType<typeof readAllAttachments>>> {
  const out: Awaited<ReturnType<typeof readAllAttachments>> = new Map();
  for (const p of await allNodePaths(paths)) for (const [k, v] of await readAllAttachments(p)) out.set(k, v);
  return out;
}

/** The instance's cluster as a ClusterView, from its store; null when it has none. */
export async function readApiState(paths: InstancePaths): Promise<ClusterView | null> {
  if (!existsSync(paths.storeFile)) return null;
  // Loaded on demand: commands that never read the store (--help, kubeconfig) stay light.
  const [{ openStoreReader }, { resourceFor }] = await Promise.all([import('../api/server/store-reader.ts'), import('../api/server/resources.ts')]);
  const reader = openStoreReader(paths.storeFile);
  try {
    const list = (group: string, plural: string) => reader.list(resourceFor(group, plural)!).items as unknown as ApiObject[];
    const live = (await listAllNodes(paths)).map((l) => l.container);
    const pids = new Map(live.filter((c) => c.status === 'running').map((c) => [c.id, c.pid]));
    const pods: Record<string, Pod> = {};
    const replicaSets = list('apps', 'replicasets');
    // The host end of each pod's veth and its sandbox's ID, as the CNI plugins' results say.
    const attachments = await readClusterAttachments(paths);
    for (const p of list('', 'pods')) {
      const pod = toInternalPod(p as unknown as ApiPod, paths);
      const a = attachments.get(pod.metadata.annotations['lab/netns'] ?? '');
      if (a && a.pod.uid === p.metadata.uid) {
        pod.metadata.annotations[SANDBOX_ANNOTATION] = a.containerId;
        const veth = attachmentAddresses(a).veth;
        if (veth) pod.metadata.annotations[VETH_ANNOTATION] = veth;
      }
      pod.status = podStatusFromApi(p.status as Obj | undefined, pids);
      const deployment = owningDeployment(p, replicaSets);
      if (deployment) pod.metadata.annotations[OWNER_DEPLOYMENT_ANNOTATION] = deployment;
      else delete pod.metadata.annotations[OWNER_DEPLOYMENT_ANNOTATION]; // only the owner says it, never a copied annotation
      pods[pod.metadata.name] = pod;
    }
    const mode = netnsExists(paths.nodeNetns) ? 'sandbox' : 'host';
    const nodes = list('', 'nodes')
      .map((n) => nodeInfoFromApi(n as unknown as FlannelNode, paths, mode))
      .sort((a, b) => Number(b.server) - Number(a.server) || a.name.localeCompare(b.name));
    const node = nodes.find((n) => n.server) ?? nodes[0];
    const events = list('', 'events').map((e) => labEventFromApi(e)).sort((a, b) => a.time.localeCompare(b.time));
    return {
      instance: paths.instance,
      mode,
      nodeName: node?.name ?? '',
      nodeIP: node?.ip ?? '',
      nodes,
      createdAt: node?.createdAt ?? '',
      pods,
      services: list('', 'services').map(serviceFromApi),
      endpoints: list('', 'endpoints').map(endpointsFromApi),
      events,
    };
  } finally {
    reader.close();
  }
}
