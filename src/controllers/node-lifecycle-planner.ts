// kube-controller-manager's node lifecycle controller, its decisions as pure functions:
//
// - Health (tryUpdateNodeHealth): a node heard from neither by its Lease nor by its Ready
//   heartbeat for node-monitor-grace-period (40 s) gets its Ready, MemoryPressure, DiskPressure
//   and PIDPressure conditions set to Unknown ("Kubelet stopped posting node status.").
// - TaintNodesByCondition (doNoScheduleTaintingPass): each condition's NoSchedule taint, and
//   node.kubernetes.io/unschedulable for a cordoned node: Ready False -> not-ready, Ready Unknown ->
//   unreachable, MemoryPressure/DiskPressure/PIDPressure True, NetworkUnavailable True. The taints
//   the scheduler filters on; a Ready node's not-ready taint (the API server puts it on every new
//   Node) goes.
// - Taint-based eviction (processTaintBaseEviction): Ready False -> not-ready:NoExecute, Unknown ->
//   unreachable:NoExecute (one swapped for the other), Ready True -> neither. The taint eviction
//   controller then evicts each pod when its toleration of the taint runs out.
// - Disruption (ComputeZoneState, handleDisruption): when every node of every zone is not Ready the
//   controller assumes the fault is its own (the control plane cut off), stops tainting and takes
//   the NoExecute taints off; a small zone (at most 50 nodes) in partial disruption (more than 2
//   nodes and at least 55 % not Ready) gets no new ones either.
// kube-controller-manager also rate-limits NoExecute tainting (--node-eviction-rate, one node per
// 10 s); with the lab's few nodes that never delays the first node, and is left out.
import { TAINT_NODE_DISK_PRESSURE, TAINT_NODE_MEMORY_PRESSURE, TAINT_NODE_NETWORK_UNAVAILABLE, TAINT_NODE_NOT_READY, TAINT_NODE_PID_PRESSURE, TAINT_NODE_UNREACHABLE, TAINT_NODE_UNSCHEDULABLE, sameTaint, type Taint } from '../api/taints.ts';
import { rfc3339 } from '../api/server/object.ts';
import type { KubeObject } from '../client/types.ts';

export const NODE_MONITOR_PERIOD_MS = 5_000;
/** --node-monitor-grace-period. */
export const NODE_MONITOR_GRACE_MS = 40_000;
/** --large-cluster-size-threshold and --unhealthy-zone-threshold. */
const LARGE_CLUSTER_THRESHOLD = 50;
const UNHEALTHY_ZONE_THRESHOLD = 0.55;

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface NodeObj extends KubeObject {
  spec?: { taints?: Taint[]; unschedulable?: boolean };
  status?: { conditions?: Condition[] };
}

export interface LeaseObj extends KubeObject {
  spec?: { renewTime?: string };
}

/** The conditions the controller sets to Unknown (NetworkUnavailable is the control plane's own). */
const KUBELET_CONDITIONS = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

/** nodeConditionToTaintKeyStatusMap. */
const CONDITION_TAINTS: Record<string, Partial<Record<Condition['status'], string>>> = {
  Ready: { False: TAINT_NODE_NOT_READY, Unknown: TAINT_NODE_UNREACHABLE },
  MemoryPressure: { True: TAINT_NODE_MEMORY_PRESSURE },
  DiskPressure: { True: TAINT_NODE_DISK_PRESSURE },
  NetworkUnavailable: { True: TAINT_NODE_NETWORK_UNAVAILABLE },
  PIDPressure: { True: TAINT_NODE_PID_PRESSURE },
};
const CONDITION_TAINT_KEYS = new Set(Object.values(CONDITION_TAINTS).flatMap((m) => Object.values(m)));

export const readyCondition = (n: NodeObj): Condition | undefined => n.status?.conditions?.find((c) => c.type === 'Ready');
export const isReady = (n: NodeObj): boolean => readyCondition(n)?.status === 'True';

/** When the node was last heard from: the later of its Lease renewal and its Ready heartbeat. */
export function lastHeard(node: NodeObj, lease: LeaseObj | undefined): number {
  const ready = readyCondition(node);
  const times = [lease?.spec?.renewTime, ready?.lastHeartbeatTime, node.metadata.creationTimestamp].map((t) => (t ? Date.parse(t) : 0));
  return Math.max(...times);
}

/** tryUpdateNodeHealth: the conditions to write when the node has been silent too long, else undefined. */
export function healthConditions(node: NodeObj, lease: LeaseObj | undefined, now: number, graceMs = NODE_MONITOR_GRACE_MS): Condition[] | undefined {
  if (now - lastHeard(node, lease) <= graceMs) return undefined;
  const conds = [...(node.status?.conditions ?? [])];
  let changed = false;
  for (const type of KUBELET_CONDITIONS) {
    const i = conds.findIndex((c) => c.type === type);
    if (i < 0) {
      conds.push({ type, status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatTime: node.metadata.creationTimestamp, lastTransitionTime: rfc3339(now) });
      changed = true;
    } else if (conds[i]!.status !== 'Unknown') {
      conds[i] = { ...conds[i]!, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: rfc3339(now) };
      changed = true;
    }
  }
  return changed ? conds : undefined;
}

export interface TaintChange {
  add: Taint[];
  remove: Taint[];
}

/** The node's taints after a change (SwapNodeControllerTaint: added ones get timeAdded; one key+effect once). */
export function applyTaintChange(taints: Taint[] | undefined, change: TaintChange, now: number): Taint[] {
  const kept = (taints ?? []).filter((t) => !change.remove.some((r) => sameTaint(r, t)) && !change.add.some((a) => sameTaint(a, t)));
  return [...kept, ...change.add.map((t) => ({ ...t, timeAdded: rfc3339(now) }))];
}

const isEmpty = (c: TaintChange) => c.add.length === 0 && c.remove.length === 0;

/** doNoScheduleTaintingPass: the condition and unschedulable NoSchedule taints to add and take off; undefined when none. */
export function noScheduleTaintChange(node: NodeObj): TaintChange | undefined {
  const want: Taint[] = [];
  for (const c of node.status?.conditions ?? []) {
    const key = CONDITION_TAINTS[c.type]?.[c.status];
    if (key) want.push({ key, effect: 'NoSchedule' });
  }
  if (node.spec?.unschedulable) want.push({ key: TAINT_NODE_UNSCHEDULABLE, effect: 'NoSchedule' });
  const have = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoSchedule' && (t.key === TAINT_NODE_UNSCHEDULABLE || CONDITION_TAINT_KEYS.has(t.key)));
  const change = { add: want.filter((w) => !have.some((h) => sameTaint(h, w))), remove: have.filter((h) => !want.some((w) => sameTaint(h, w))) };
  return isEmpty(change) ? undefined : change;
}

export type ZoneState = 'Normal' | 'PartialDisruption' | 'FullDisruption';

/** nodetopology.GetZoneKey: region and zone labels; '' for a node with neither. */
export function zoneKey(node: NodeObj): string {
  const l = node.metadata.labels ?? {};
  const region = l['topology.kubernetes.io/region'] ?? l['failure-domain.beta.kubernetes.io/region'] ?? '';
  const zone = l['topology.kubernetes.io/zone'] ?? l['failure-domain.beta.kubernetes.io/zone'] ?? '';
  return region === '' && zone === '' ? '' : `${region}:\0:${zone}`;
}

/** ComputeZoneState for every zone, from the nodes' Ready conditions as the controller has just written them. */
export function zoneStates(nodes: NodeObj[]): Map<string, { state: ZoneState; size: number }> {
  const counts = new Map<string, { ready: number; notReady: number }>();
  for (const n of nodes) {
    const c = counts.get(zoneKey(n)) ?? { ready: 0, notReady: 0 };
    if (isReady(n)) c.ready++;
    else c.notReady++;
    counts.set(zoneKey(n), c);
  }
  const out = new Map<string, { state: ZoneState; size: number }>();
  for (const [zone, { ready, notReady }] of counts) {
    const size = ready + notReady;
    let state: ZoneState = 'Normal';
    if (ready === 0 && notReady > 0) state = 'FullDisruption';
    else if (notReady > 2 && notReady / size >= UNHEALTHY_ZONE_THRESHOLD) state = 'PartialDisruption';
    out.set(zone, { state, size });
  }
  return out;
}

/** Whether the controller may put NoExecute taints on this zone's nodes (its zone tainter's rate is not 0). */
export function mayTaint(zones: Map<string, { state: ZoneState; size: number }>, zone: string): boolean {
  if ([...zones.values()].every((z) => z.state === 'FullDisruption')) return false; // master disruption mode
  const z = zones.get(zone);
  return !(z?.state === 'PartialDisruption' && z.size <= LARGE_CLUSTER_THRESHOLD);
}

const NOT_READY_NO_EXECUTE: Taint = { key: TAINT_NODE_NOT_READY, effect: 'NoExecute' };
const UNREACHABLE_NO_EXECUTE: Taint = { key: TAINT_NODE_UNREACHABLE, effect: 'NoExecute' };

/**
 * processTaintBaseEviction (and markNodeAsReachable): Ready False wants not-ready:NoExecute,
 * Unknown wants unreachable:NoExecute (the other one is swapped out), True wants neither. With
 * `mayTaint` false nothing is added; in master disruption mode (`disrupted`) both come off.
 */
export function noExecuteTaintChange(node: NodeObj, may: boolean, disrupted: boolean): TaintChange | undefined {
  const has = (t: Taint) => (node.spec?.taints ?? []).some((x) => sameTaint(x, t));
  const status = readyCondition(node)?.status;
  const both = [NOT_READY_NO_EXECUTE, UNREACHABLE_NO_EXECUTE];
  let change: TaintChange = { add: [], remove: [] };
  if (status === 'True' || disrupted) change = { add: [], remove: both.filter(has) };
  else if (may && (status === 'False' || status === 'Unknown')) {
    const [want, other] = status === 'False' ? both : [UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE];
    if (!has(want!)) change = { add: [want!], remove: has(other!) ? [other!] : [] };
  }
  return isEmpty(change) ? undefined : change;
}
