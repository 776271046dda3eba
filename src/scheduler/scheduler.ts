// The scheduler as a pure function, one pod at a time as kube-scheduler's scheduling cycle:
// PreFilter (NodeAffinity's node names), Filter (filters.ts) on every node, then on the nodes left
// a score, and the best node; when none is left, the FitError text kube-scheduler v1.32 writes
// into the FailedScheduling event and the PodScheduled condition, with DefaultPreemption's
// PostFilter message after it ("preemption: ...").
//
// Score: kube-scheduler adds up weighted plugin scores and picks at random among the best; the
// lab compares lexicographically and breaks ties by node name, so the same pods and nodes always
// give the same placement. In the order the default weights make them count: fewer
// PreferNoSchedule taints the pod does not tolerate (TaintToleration, weight 3), more preferred
// node affinity weight (NodeAffinity, 2), fewer pods of the pod's owner on the node (the default
// PodTopologySpread constraint on kubernetes.io/hostname, 2: an owner's replicas are spread over
// nodes), then fewer pods (NodeResourcesFit's LeastAllocated, by pod count).
import { tolerationsTolerateTaint } from '../api/taints.ts';
import { filterNode, type NodeInfo, type NodeStatus, type SchedNode, type SchedPod } from './filters.ts';
import { preFilterNodeNames, preferredAffinityWeight } from './node-affinity.ts';

export type { SchedNode, SchedPod } from './filters.ts';

export type Outcome = { node: string } | { message: string };

/** framework.ErrNoNodesAvailable: no node at all (not a FitError; the pod is Unschedulable all the same). */
export const NO_NODES_AVAILABLE = 'no nodes available to schedule pods';
const PREEMPTION_NOT_HELPFUL = 'Preemption is not helpful for scheduling';
const NO_VICTIMS = 'No preemption victims found for incoming pod';
const PREFILTER_CONFLICT = 'pod affinity terms conflict';

/** The pods a node holds as the scheduler's cache has them: bound, not Succeeded or Failed. */
export function nodeInfos(nodes: SchedNode[], pods: SchedPod[]): NodeInfo[] {
  const byNode = new Map<string, SchedPod[]>(nodes.map((n) => [n.metadata.name, []]));
  for (const p of pods) {
    if (!p.spec.nodeName || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    byNode.get(p.spec.nodeName)?.push(p);
  }
  return nodes.map((node) => ({ node, pods: byNode.get(node.metadata.name)! }));
}

/**
 * FitError.Error(): "0/<all> nodes are available: <count> <reason>, ... ." with the reasons counted
 * and sorted as strings (Go's sort.Strings over "<count> <reason>"), nodes with no status of their
 * own counted under `absent`.
 */
export function fitErrorMessage(all: number, statuses: NodeStatus[], absent?: NodeStatus, preFilterMsg?: string): string {
  let msg = `0/${all} nodes are available:`;
  if (preFilterMsg) return `${msg} ${preFilterMsg}.`;
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(s.reason, (counts.get(s.reason) ?? 0) + 1);
  if (absent && statuses.length < all) counts.set(absent.reason, (counts.get(absent.reason) ?? 0) + all - statuses.length);
  const parts = [...counts].map(([reason, n]) => `${n} ${reason}`);
  // Go compares strings bytewise; JavaScript's < compares UTF-16 units, the same for these texts.
  parts.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (parts.length) msg += ` ${parts.join(', ')}.`;
  return msg;
}

/**
 * DefaultPreemption's PostFilter message. Only nodes that failed with Unschedulable are tried; on
 * each, the pods of lower priority are the possible victims. Every lab pod has priority 0 (there
 * are no PriorityClasses), so there never are any: "No preemption victims found for incoming pod".
 * Were there some that would make room, kube-scheduler would nominate the node and evict them,
 * and write no preemption message; the lab evicts nothing and writes none either.
 */
export function preemptionMessage(pod: SchedPod, infos: NodeInfo[], statuses: Map<string, NodeStatus>): string {
  if (pod.spec.preemptionPolicy === 'Never') return 'preemption: not eligible due to preemptionPolicy=Never.';
  const priority = pod.spec.priority ?? 0;
  const tried: NodeStatus[] = [];
  let candidate = false;
  for (const info of infos) {
    if (statuses.get(info.node.metadata.name)?.code !== 'Unschedulable') continue;
    const survivors = info.pods.filter((p) => (p.spec.priority ?? 0) >= priority);
    if (survivors.length === info.pods.length) {
      tried.push({ code: 'UnschedulableAndUnresolvable', reason: NO_VICTIMS });
      continue;
    }
    const s = filterNode(pod, { node: info.node, pods: survivors });
    if (s) tried.push(s);
    else candidate = true;
  }
  if (candidate) return '';
  return `preemption: ${fitErrorMessage(infos.length, tried, { code: 'UnschedulableAndUnresolvable', reason: PREEMPTION_NOT_HELPFUL })}`;
}

const controllerUID = (p: SchedPod) => p.metadata.ownerReferences?.find((r) => r.controller)?.uid;

/** The score tuple of a feasible node (lower is better, compared left to right). */
function score(pod: SchedPod, info: NodeInfo): number[] {
  const preferNoSchedule = (info.node.spec?.taints ?? []).filter(
    (t) => t.effect === 'PreferNoSchedule' && !tolerationsTolerateTaint((pod.spec.tolerations ?? []).filter((x) => !x.effect || x.effect === 'PreferNoSchedule'), t),
  ).length;
  const owner = controllerUID(pod);
  // PodTopologySpread counts matching pods that are not being deleted, in the pod's namespace.
  const siblings = owner ? info.pods.filter((p) => !p.metadata.deletionTimestamp && p.metadata.namespace === pod.metadata.namespace && controllerUID(p) === owner).length : 0;
  return [preferNoSchedule, -preferredAffinityWeight(pod.spec, info.node), siblings, info.pods.length];
}

function best(pod: SchedPod, feasible: NodeInfo[]): string {
  const scored = feasible.map((info) => ({ name: info.node.metadata.name, s: score(pod, info) }));
  scored.sort((a, b) => {
    for (let i = 0; i < a.s.length; i++) if (a.s[i] !== b.s[i]) return a.s[i]! - b.s[i]!;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  return scored[0]!.name;
}

/** One scheduling cycle for `pod` over `nodes`, with `pods` the pods there are (bound ones count). */
export function schedulePod(pod: SchedPod, nodes: SchedNode[], pods: SchedPod[]): Outcome {
  if (nodes.length === 0) return { message: NO_NODES_AVAILABLE };
  const infos = nodeInfos(nodes, pods);
  const all = infos.length;
  const names = preFilterNodeNames(pod.spec);
  if (names === 'conflict') {
    const preemption = preemptionMessage(pod, infos, new Map());
    return { message: `${fitErrorMessage(all, [], undefined, PREFILTER_CONFLICT)} ${preemption}` };
  }
  const candidates = names ? infos.filter((i) => names.has(i.node.metadata.name)) : infos;
  const statuses = new Map<string, NodeStatus>();
  const feasible: NodeInfo[] = [];
  for (const info of candidates) {
    const s = filterNode(pod, info);
    if (s) statuses.set(info.node.metadata.name, s);
    else feasible.push(info);
  }
  if (feasible.length) return { node: best(pod, feasible) };
  const absent: NodeStatus = { code: 'UnschedulableAndUnresolvable', reason: "node(s) didn't satisfy plugin(s) [NodeAffinity]" };
  const message = fitErrorMessage(all, [...statuses.values()], absent);
  const preemption = preemptionMessage(pod, infos, statuses);
  return { message: preemption ? `${message} ${preemption}` : message };
}

/**
 * Pods scheduled one after another, in the order given, each seeing the ones placed before it
 * (kube-scheduler's assumed pods): the placement, or why a pod fits nowhere.
 */
export function schedule(pending: SchedPod[], nodes: SchedNode[], existing: SchedPod[]): Map<string, Outcome> {
  const placed = [...existing];
  const out = new Map<string, Outcome>();
  for (const pod of pending) {
    const o = schedulePod(pod, nodes, placed);
    out.set(pod.metadata.name, o);
    if ('node' in o) placed.push({ ...pod, spec: { ...pod.spec, nodeName: o.node } });
  }
  return out;
}
