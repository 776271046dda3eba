// The ReplicaSet (and, for now, Deployment) controller as a pure planner: from Deployments and
// the pods that exist, which pods to create and which to delete.
import { randomUUID } from 'node:crypto';
import type { Deployment, Pod } from '../api/types.ts';
import { podName, podTemplateHash, randomSuffix, replicaSetName } from './podnames.ts';

export interface ReplicaSetPlan {
  create: Pod[];
  delete: Pod[];
}

export const POD_TEMPLATE_HASH = 'pod-template-hash';

export function ownerDeployment(pod: Pod): string | undefined {
  return pod.metadata.annotations['lab/deployment'];
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
      annotations: { ...t.metadata.annotations, 'lab/deployment': d.metadata.name },
      ownerReferences: [{ kind: 'ReplicaSet', name: replicaSetName(d.metadata.name, hash) }],
    },
    spec: structuredClone(t.spec),
    status: { phase: 'Pending', conditions: [], containerStatuses: [] },
  };
}

/**
 * Keeps, per Deployment, `replicas` pods of the current template hash. Pods of an older
 * template, of a Deployment that is gone, or in excess are deleted; the newest excess pods go
 * first, as the ReplicaSet controller prefers to keep the pods that have been up longest.
 * `taken` is every pod name in use on the cluster; new names never collide with it.
 */
export function planReplicaSets(deployments: Deployment[], pods: Pod[], rand?: (n: number) => number): ReplicaSetPlan {
  const plan: ReplicaSetPlan = { create: [], delete: [] };
  const taken = new Set(pods.map((p) => p.metadata.name));
  const byDeployment = new Map<string, Pod[]>();
  for (const p of pods) {
    const owner = ownerDeployment(p);
    if (owner === undefined) continue;
    const k = `${p.metadata.namespace}/${owner}`;
    byDeployment.set(k, [...(byDeployment.get(k) ?? []), p]);
  }
  const wanted = new Set<string>();
  for (const d of deployments) {
    const k = `${d.metadata.namespace}/${d.metadata.name}`;
    wanted.add(k);
    const hash = podTemplateHash(d.spec.template);
    const owned = byDeployment.get(k) ?? [];
    const current = owned.filter((p) => p.metadata.labels[POD_TEMPLATE_HASH] === hash && !p.metadata.annotations['lab/deleting']);
    const stale = owned.filter((p) => !current.includes(p));
    plan.delete.push(...stale);
    const sorted = [...current].sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name));
    plan.delete.push(...sorted.slice(d.spec.replicas).reverse());
    for (let i = sorted.length; i < d.spec.replicas; i++) {
      let name: string;
      do name = podName(d.metadata.name, hash, randomSuffix(5, rand));
      while (taken.has(name));
      taken.add(name);
      plan.create.push(newPod(d, hash, name));
    }
  }
  for (const [k, owned] of byDeployment) if (!wanted.has(k)) plan.delete.push(...owned);
  return plan;
}
