// kube-controller-manager's ReplicaSet controller as pure functions (pkg/controller/replicaset):
// from a ReplicaSet and the active pods it owns, how many pods to create or which to delete
// (manageReplicas), what its pods look like (GetPodFromTemplate), the slow-start batches creates go
// in, and the status it reports. The controller (replicaset-controller.ts) carries them out.
import { isPodAvailable, isPodReady, newControllerRef, podReadyTime, isPodActive, type Condition, type PodObj, type ReplicaSetObj, type ReplicaSetStatus } from './workloads.ts';
import { rfc3339 } from '../api/server/object.ts';

/** --concurrent-replicaset-syncs' companion: at most this many creates or deletes per sync (kube's BurstReplicas). */
export const BURST_REPLICAS = 500;
/** controller.SlowStartInitialBatchSize. */
export const SLOW_START_INITIAL_BATCH = 1;

export interface ReplicaPlan {
  /** Pods to create from the template. */
  create: number;
  /** Pods to delete, first to go first. */
  delete: PodObj[];
}

/**
 * manageReplicas: the difference between spec.replicas and the active pods the ReplicaSet owns,
 * at most BURST_REPLICAS at a time. Surplus pods go in the ActivePods ranking; `related` are the
 * pods of the ReplicaSet's siblings (same owning Deployment), for the "doubled up on a node" step.
 */
export function planReplicas(rs: ReplicaSetObj, pods: PodObj[], related: PodObj[] = pods, burst = BURST_REPLICAS): ReplicaPlan {
  const diff = pods.length - (rs.spec.replicas ?? 1);
  if (diff < 0) return { create: Math.min(-diff, burst), delete: [] };
  if (diff === 0) return { create: 0, delete: [] };
  return { create: 0, delete: podsToDelete(pods, related, Math.min(diff, burst)) };
}

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
const cost = (p: PodObj) => Number.parseInt(p.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'] ?? '0', 10) || 0;
const restarts = (p: PodObj) => Math.max(0, ...(p.status?.containerStatuses ?? []).map((c) => c.restartCount ?? 0));

/**
 * ActivePodsWithRanks, first to delete first: unscheduled, Pending < Unknown < Running, not ready,
 * lower pod-deletion-cost, then more sibling pods on the same node, then ready for less time, then
 * more restarts (a crash-looping pod before a healthy one), newer, name. (kube's
 * LogarithmicScaleDown treats ages within the same power of two as equal and breaks ties by uid;
 * the lab compares plain times.)
 */
export function podsToDelete(pods: PodObj[], related: PodObj[], diff: number): PodObj[] {
  if (diff >= pods.length) return [...pods];
  const onNode = new Map<string, number>();
  for (const p of related) if (isPodActive(p)) onNode.set(p.spec?.nodeName ?? '', (onNode.get(p.spec?.nodeName ?? '') ?? 0) + 1);
  const rank = (p: PodObj) => onNode.get(p.spec?.nodeName ?? '') ?? 0;
  const readySince = (p: PodObj) => (isPodReady(p) ? podReadyTime(p) : 0);
  const order = (a: PodObj, b: PodObj) =>
    Number(Boolean(a.spec?.nodeName)) - Number(Boolean(b.spec?.nodeName)) ||
    (PHASE_ORDINAL[a.status?.phase ?? ''] ?? 0) - (PHASE_ORDINAL[b.status?.phase ?? ''] ?? 0) ||
    Number(isPodReady(a)) - Number(isPodReady(b)) ||
    cost(a) - cost(b) ||
    rank(b) - rank(a) ||
    // Both ready: the one ready more recently first (an unknown time counts as most recent).
    (isPodReady(a) && isPodReady(b) && readySince(a) !== readySince(b) ? (readySince(a) === 0 ? -1 : readySince(b) === 0 ? 1 : readySince(b) - readySince(a)) : 0) ||
    restarts(b) - restarts(a) ||
    (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') ||
    b.metadata.name.localeCompare(a.metadata.name);
  return [...pods].sort(order).slice(0, diff);
}

/** GetPodFromTemplate: the pod a ReplicaSet creates (the API server completes the name). */
export function podFromTemplate(rs: ReplicaSetObj): PodObj {
  const t = rs.spec.template ?? {};
  const meta = t.metadata ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: '',
      generateName: `${rs.metadata.name}-`,
      namespace: rs.metadata.namespace,
      labels: meta.labels ? { ...meta.labels } : undefined,
      annotations: meta.annotations ? { ...meta.annotations } : undefined,
      finalizers: meta.finalizers ? [...meta.finalizers] : undefined,
      ownerReferences: [newControllerRef(rs, 'apps/v1', 'ReplicaSet')],
    },
    spec: structuredClone(t.spec ?? {}),
  };
}

/**
 * slowStartBatch's batch sizes for `count` creates: 1, 2, 4, ... (the last one what is left). The
 * controller stops after the first batch in which a create failed, so a namespace that refuses
 * pods costs one request, not hundreds.
 */
export function slowStartBatches(count: number, initial = SLOW_START_INITIAL_BATCH): number[] {
  const out: number[] = [];
  for (let size = Math.min(count, initial), left = count; size > 0; size = Math.min(2 * size, left)) {
    out.push(size);
    left -= size;
  }
  return out;
}

/**
 * calculateStatus: counts of the active pods the ReplicaSet owns. A failed create or delete sets
 * the ReplicaFailure condition (reason FailedCreate or FailedDelete, the API's message); a sync
 * without error clears it.
 */
export function replicaSetStatus(rs: ReplicaSetObj, pods: PodObj[], manageError: string | undefined, now: number): ReplicaSetStatus {
  const templateLabels = Object.entries(rs.spec.template?.metadata?.labels ?? {});
  const minReady = rs.spec.minReadySeconds ?? 0;
  let conditions: Condition[] = [...(rs.status?.conditions ?? [])];
  const failure = conditions.find((c) => c.type === 'ReplicaFailure');
  if (manageError !== undefined && !failure) {
    const diff = pods.length - (rs.spec.replicas ?? 1);
    const reason = diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : '';
    conditions.push({ type: 'ReplicaFailure', status: 'True', lastTransitionTime: rfc3339(now), reason, message: manageError });
  } else if (manageError === undefined && failure) {
    conditions = conditions.filter((c) => c.type !== 'ReplicaFailure');
  }
  // Zero counts are left out, as the API's JSON omits them (replicas excepted).
  const status: ReplicaSetStatus = { replicas: pods.length };
  const fully = pods.filter((p) => templateLabels.every(([k, v]) => p.metadata.labels?.[k] === v)).length;
  const ready = pods.filter(isPodReady).length;
  const available = pods.filter((p) => isPodAvailable(p, minReady, now)).length;
  if (fully) status.fullyLabeledReplicas = fully;
  if (ready) status.readyReplicas = ready;
  if (available) status.availableReplicas = available;
  if (rs.status?.observedGeneration) status.observedGeneration = rs.status.observedGeneration;
  if (conditions.length) status.conditions = conditions;
  return status;
}

/** updateReplicaSetStatus's test: write only when a count, the conditions or the observed generation differ. */
export function statusNeedsWrite(rs: ReplicaSetObj, s: ReplicaSetStatus): boolean {
  const cur = rs.status ?? {};
  const n = (v: number | undefined) => v ?? 0;
  return (
    n(cur.replicas) !== n(s.replicas) ||
    n(cur.fullyLabeledReplicas) !== n(s.fullyLabeledReplicas) ||
    n(cur.readyReplicas) !== n(s.readyReplicas) ||
    n(cur.availableReplicas) !== n(s.availableReplicas) ||
    n(rs.metadata.generation) !== n(cur.observedGeneration) ||
    JSON.stringify(cur.conditions ?? []) !== JSON.stringify(s.conditions ?? [])
  );
}

/**
 * All pods ready but some not yet available (minReadySeconds): look again after minReadySeconds,
 * when they will be (kube requeues the ReplicaSet so, having no event to wait for).
 */
export function minReadyRequeueMs(rs: ReplicaSetObj, s: ReplicaSetStatus): number | undefined {
  const want = rs.spec.replicas ?? 1;
  const minReady = rs.spec.minReadySeconds ?? 0;
  if (minReady > 0 && (s.readyReplicas ?? 0) === want && (s.availableReplicas ?? 0) !== want) return minReady * 1000;
  return undefined;
}
