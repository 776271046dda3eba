// kube-scheduler v1.32's Filter plugins that the lab's pods and nodes can meet, in the order of
// the default profile (NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
// NodeResourcesFit, ...), each with its reason text and status code. A node is rejected by the
// first plugin that fails, so each node contributes exactly one reason to FailedScheduling.
// Not here: NodePorts (no hostPort pods in the lab), the volume plugins (no PersistentVolumes),
// cpu and memory requests (NodeResourcesFit counts pods only), PodTopologySpread and
// InterPodAffinity with required constraints (see scheduler.ts for the default spreading score).
import { findUntoleratedTaint, TAINT_NODE_UNSCHEDULABLE, tolerationsTolerateTaint, formatTaintForScheduler, type Taint, type Toleration } from '../api/taints.ts';
import { matchesRequiredNodeAffinity, type AffinityPodSpec } from './node-affinity.ts';

export interface SchedNode {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: Taint[] };
  status?: { allocatable?: Record<string, string> };
}

export interface SchedPod {
  metadata: { name: string; namespace?: string; uid?: string; deletionTimestamp?: string; ownerReferences?: { uid?: string; controller?: boolean }[] };
  spec: AffinityPodSpec & { nodeName?: string; tolerations?: Toleration[]; priority?: number; preemptionPolicy?: string };
  status?: { phase?: string };
}

/**
 * framework.Code: Unschedulable may be resolved by preempting pods on the node;
 * UnschedulableAndUnresolvable cannot (preemption skips the node).
 */
export type Code = 'Unschedulable' | 'UnschedulableAndUnresolvable';

export interface NodeStatus {
  code: Code;
  reason: string;
}

/** The plugins' reason texts (their ErrReason constants). */
export const REASON = {
  unschedulable: 'node(s) were unschedulable',
  nodeName: "node(s) didn't match the requested node name",
  affinity: "node(s) didn't match Pod's node affinity/selector",
  tooManyPods: 'Too many pods',
  untoleratedTaint: (t: Taint) => `node(s) had untolerated taint ${formatTaintForScheduler(t)}`,
} as const;

/** What a filter needs of the node beyond its object: the pods already on it. */
export interface NodeInfo {
  node: SchedNode;
  /** Pods bound to the node and not finished (terminating ones count: they still hold their place). */
  pods: SchedPod[];
}

type Filter = (pod: SchedPod, n: NodeInfo) => NodeStatus | undefined;

const unresolvable = (reason: string): NodeStatus => ({ code: 'UnschedulableAndUnresolvable', reason });

/** NodeUnschedulable: a cordoned node, unless the pod tolerates node.kubernetes.io/unschedulable:NoSchedule. */
const nodeUnschedulable: Filter = (pod, { node }) => {
  if (!node.spec?.unschedulable) return undefined;
  if (tolerationsTolerateTaint(pod.spec.tolerations, { key: TAINT_NODE_UNSCHEDULABLE, effect: 'NoSchedule' })) return undefined;
  return unresolvable(REASON.unschedulable);
};

/** NodeName: a pod that names a node fits only there. */
const nodeName: Filter = (pod, { node }) => (pod.spec.nodeName && pod.spec.nodeName !== node.metadata.name ? unresolvable(REASON.nodeName) : undefined);

/** TaintToleration: the node's first NoSchedule or NoExecute taint the pod does not tolerate. */
const taintToleration: Filter = (pod, { node }) => {
  const taint = findUntoleratedTaint(node.spec?.taints, pod.spec.tolerations, (t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  return taint ? unresolvable(REASON.untoleratedTaint(taint)) : undefined;
};

/** NodeAffinity: nodeSelector and required node affinity. */
const nodeAffinity: Filter = (pod, { node }) => (matchesRequiredNodeAffinity(pod.spec, node) ? undefined : unresolvable(REASON.affinity));

/** NodeResourcesFit, the pods resource: one more pod than status.allocatable.pods is too many. */
const nodeResourcesFit: Filter = (_pod, { node, pods }) => {
  const allowed = Number(node.status?.allocatable?.pods ?? 0);
  return pods.length + 1 > allowed ? { code: 'Unschedulable', reason: REASON.tooManyPods } : undefined;
};

export const FILTERS: readonly Filter[] = [nodeUnschedulable, nodeName, taintToleration, nodeAffinity, nodeResourcesFit];

/** RunFilterPlugins: the first failing plugin's status, or undefined when the node fits. */
export function filterNode(pod: SchedPod, info: NodeInfo): NodeStatus | undefined {
  for (const f of FILTERS) {
    const s = f(pod, info);
    if (s) return s;
  }
  return undefined;
}
