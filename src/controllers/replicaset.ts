// The ReplicaSet (and, for now, Deployment) controller as a pure planner: from Deployments and
// the pods that exist, which pods to create and which to delete.
import { randomUUID } from 'node:crypto';
import { admitPod } from '../api/admission.ts';
import { OWNER_DEPLOYMENT_ANNOTATION } from '../api/owners.ts';
import { isTerminating, type Deployment, type Pod } from '../api/types.ts';
import { podName, podTemplateHash, randomSuffix, replicaSetName } from './podnames.ts';

export interface ReplicaSetPlan {
  create: Pod[];
  delete: Pod[];
}

export const POD_TEMPLATE_HASH = 'pod-template-hash';

export function ownerDeployment(pod: Pod): string | undefined {
  return pod.metadata.annotations[OWNER_DEPLOYMENT_ANNOTATION];
}

export function newPod(d: Deployment, hash: string, name: string): Pod {
  const t = d.spec.template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: d.metadata.namespace,
      generateName: `${replicaSetName(d.metadata.name, hash)}-`,
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString(),
      labels: { ...t.metadata.labels, [POD_TEMPLATE_HASH]: hash },
      annotations: { ...t.metadata.annotations, [OWNER_DEPLOYMENT_ANNOTATION]: d.metadata.name },
      ownerReferences: [{ kind: 'ReplicaSet', name: replicaSetName(d.metadata.name, hash) }],
    },
    spec: structuredClone(t.spec),
    status: { phase: 'Pending', conditions: [], containerStatuses: [] },
  };
}

function isReady(p: Pod): boolean {
  return p.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

/**
 * The ReplicaSet controller's order for scaling down (kube-controller-manager's ActivePods
 * ranking), first to delete first: unscheduled before scheduled; Pending before Unknown before
 * Running; not ready before ready; lower pod-deletion-cost first; higher restart count first;
 * newer before older. (Its "doubled up on a node" and "ready for less time" steps are ties on
 * the lab's single node and unrecorded ready times.) A crash-looping pod goes before a healthy one.
 */
export function deletionOrder(a: Pod, b: Pod): number {
  const unscheduled = (p: Pod) => (p.spec.nodeName ? 1 : 0);
  const cost = (p: Pod) => Number.parseInt(p.metadata.annotations[DELETION_COST] ?? '0', 10) || 0;
  const restarts = (p: Pod) => Math.max(0, ...p.status.containerStatuses.map((c) => c.restartCount));
  return (
    unscheduled(a) - unscheduled(b) ||
    (PHASE_ORDINAL[a.status.phase] ?? 0) - (PHASE_ORDINAL[b.status.phase] ?? 0) ||
    Number(isReady(a)) - Number(isReady(b)) ||
    cost(a) - cost(b) ||
    restarts(b) - restarts(a) ||
    (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') ||
    b.metadata.name.localeCompare(a.metadata.name)
  );
}

/** intstr percent or count, as the Deployment controller resolves maxSurge (up) / maxUnavailable (down). */
export function resolveIntOrPercent(v: number | string | undefined, total: number, fallback: string, roundUp: boolean): number {
  const val = v ?? fallback;
  if (typeof val === 'number') return val;
  const pct = Number(val.replace('%', '')) / 100;
  return roundUp ? Math.ceil(pct * total) : Math.floor(pct * total);
}

/** True while a Deployment still has pods of an older template. */
export function rolloutInProgress(deployments: Deployment[], pods: Pod[]): boolean {
  return deployments.some((d) => {
    const hash = podTemplateHash(d.spec.template);
    return pods.some((p) => ownerDeployment(p) === d.metadata.name && p.metadata.namespace === d.metadata.namespace && p.metadata.labels[POD_TEMPLATE_HASH] !== hash && !isTerminating(p));
  });
}

/**
 * The Deployment and ReplicaSet controllers as one pure step: which pods to create and delete
 * now. Scaling down deletes the excess pods in `deletionOrder` (unready and crash-looping first).
 * A changed template rolls out like RollingUpdate: at most replicas+maxSurge pods exist (default
 * 25%, rounded up) and at least replicas-maxUnavailable are ready (25%, rounded down); old pods go
 * as new ones become ready, so the step is repeated whenever readiness changes. Recreate deletes
 * every old pod before creating new ones. Pods of a Deployment that is gone are deleted.
 */
export function planReplicaSets(deployments: Deployment[], pods: Pod[], rand?: (n: number) => number): ReplicaSetPlan {
  const plan: ReplicaSetPlan = { create: [], delete: [] };
  const taken = new Set(pods.map((p) => p.metadata.name));
  const live = pods.filter((p) => !isTerminating(p));
  const byDeployment = new Map<string, Pod[]>();
  for (const p of live) {
    const owner = ownerDeployment(p);
    if (owner === undefined) continue;
    const k = `${p.metadata.namespace}/${owner}`;
    byDeployment.set(k, [...(byDeployment.get(k) ?? []), p]);
  }
  const oldestFirst = (a: Pod, b: Pod) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name);
  const create = (d: Deployment, hash: string, n: number) => {
    for (let i = 0; i < n; i++) {
      let name: string;
      do name = podName(d.metadata.name, hash, randomSuffix(5, rand));
      while (taken.has(name));
      taken.add(name);
      plan.create.push(newPod(d, hash, name));
    }
  };
  const wanted = new Set<string>();
  for (const d of deployments) {
    const k = `${d.metadata.namespace}/${d.metadata.name}`;
    wanted.add(k);
    const R = d.spec.replicas;
    const hash = podTemplateHash(d.spec.template);
    const owned = byDeployment.get(k) ?? [];
    const current = owned.filter((p) => p.metadata.labels[POD_TEMPLATE_HASH] === hash).sort(oldestFirst);
    const old = owned.filter((p) => p.metadata.labels[POD_TEMPLATE_HASH] !== hash).sort(oldestFirst);
    if (current.length > R) plan.delete.push(...[...current].sort(deletionOrder).slice(0, current.length - R));
    if (old.length === 0) {
      create(d, hash, Math.max(0, R - current.length));
      continue;
    }
    if (d.spec.strategy?.type === 'Recreate') {
      plan.delete.push(...old);
      continue; // new pods once the old ones are gone (next step)
    }
    const ru = d.spec.strategy?.rollingUpdate;
    let maxSurge = resolveIntOrPercent(ru?.maxSurge, R, '25%', true);
    const maxUnavailable = resolveIntOrPercent(ru?.maxUnavailable, R, '25%', false);
    if (maxSurge === 0 && maxUnavailable === 0) maxSurge = 1;
    // rollingUpdate's reconcileNewReplicaSet: grow the new pods up to replicas+maxSurge in total.
    const newTarget = Math.min(R, Math.max(current.length, R + maxSurge - old.length));
    create(d, hash, newTarget - Math.min(current.length, R));
    // reconcileOldReplicaSets: shrink the old ones while replicas-maxUnavailable stay available;
    // unready old pods go first (they cost no availability).
    const minAvailable = R - maxUnavailable;
    const newUnavailable = current.slice(0, R).filter((p) => !isReady(p)).length;
    let maxScaledDown = current.length + old.length - minAvailable - newUnavailable;
    for (const p of [...old.filter((x) => !isReady(x)), ...old.filter(isReady)]) {
      if (maxScaledDown <= 0) break;
      plan.delete.push(p);
      maxScaledDown--;
    }
  }
  for (const [k, owned] of byDeployment) if (!wanted.has(k)) plan.delete.push(...owned);
  return plan;
}

export interface RefusedCreate {
  namespace: string;
  replicaSet: string;
  /** The API server's refusal: `pods "NAME" is forbidden: violates PodSecurity ...` */
  message: string;
}

/**
 * The API server's answer to the pods the ReplicaSet controller creates: Pod Security admission
 * against each pod's namespace labels. A refused pod is never created. The controller creates in
 * slow-start batches that stop at the first error, so each ReplicaSet reports one refusal per sync
 * (its FailedCreate event) and tries again at its next sync. Pure; the planner above stays unaware.
 */
export function admitPods(pods: Pod[], namespaceLabels: Record<string, Record<string, string>>): { admitted: Pod[]; refused: RefusedCreate[] } {
  const admitted: Pod[] = [];
  const refused = new Map<string, RefusedCreate>();
  for (const p of pods) {
    const { namespace } = p.metadata;
    const replicaSet = p.metadata.ownerReferences?.[0]?.name ?? p.metadata.name;
    const decision = admitPod(p.metadata.name, p.spec, namespaceLabels[namespace] ?? {});
    if (decision.allowed) admitted.push(p);
    else if (!refused.has(`${namespace}/${replicaSet}`)) refused.set(`${namespace}/${replicaSet}`, { namespace, replicaSet, message: decision.message });
  }
  return { admitted, refused: [...refused.values()] };
}
