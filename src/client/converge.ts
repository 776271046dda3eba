// When is the cluster "up"? What `kubectl rollout status` waits for, for every Deployment at once:
// the controller has seen the latest spec (observedGeneration), every replica runs the current
// template (updatedReplicas), all of them are ready and available, and no older replica is left
// (status.replicas). Plus no pod still terminating: its containers are still being stopped.
// `lab up` waits for this through the API; what is still missing is said pod by pod. A Deployment
// whose pods the API refuses (ReplicaFailure: Pod Security, say) will not roll out until its
// manifest or namespace changes: `lab up` says so and stops waiting, rather than time out.

import type { Client, KubeObject } from './types.ts';

type Deployment = KubeObject & {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
};

type Pod = KubeObject & {
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready?: boolean; state?: { waiting?: { reason?: string; message?: string }; terminated?: { reason?: string } } }[];
  };
};

export interface Convergence {
  done: boolean;
  /** One line per Deployment not yet rolled out, and per pod not ready or still terminating. */
  waiting: string[];
  /** Deployments whose pods the API refuses (ReplicaFailure), with its message: they will not converge as they are. */
  refused: string[];
}

const nsName = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;

/** The Deployment's ReplicaFailure (its pods refused by the API), in a waiting line; null without one. */
function refusedLine(d: Deployment): string | null {
  const failure = d.status?.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  return failure ? `deployment ${nsName(d)}: ${failure.reason ?? 'ReplicaFailure'}: ${failure.message ?? ''}` : null;
}

/** kubectl rollout status's verdict for one Deployment, in its words; null once complete. */
export function rolloutWaiting(d: Deployment): string | null {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  if ((s.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) return `deployment ${nsName(d)}: waiting for deployment spec update to be observed`;
  const refused = refusedLine(d);
  if (refused) return refused;
  if ((s.updatedReplicas ?? 0) < want) return `deployment ${nsName(d)}: ${s.updatedReplicas ?? 0} out of ${want} new replicas have been updated`;
  if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0)) return `deployment ${nsName(d)}: ${(s.replicas ?? 0) - (s.updatedReplicas ?? 0)} old replicas are pending termination`;
  if ((s.availableReplicas ?? 0) < (s.updatedReplicas ?? 0)) return `deployment ${nsName(d)}: ${s.availableReplicas ?? 0} of ${s.updatedReplicas ?? 0} updated replicas are available`;
  return null;
}

/** Why a pod is not ready: its containers' waiting reasons, or "not ready". */
export function podWaiting(p: Pod): string | null {
  if (p.metadata.deletionTimestamp) return `pod ${nsName(p)}: Terminating`;
  if (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return null;
  if (!p.spec?.nodeName) return `pod ${nsName(p)}: Pending (not scheduled)`;
  const why = (p.status?.containerStatuses ?? []).filter((c) => !c.ready).map((c) => `${c.name}: ${c.state?.waiting ? `${c.state.waiting.reason ?? 'Waiting'}${c.state.waiting.message ? ` (${c.state.waiting.message})` : ''}` : c.state?.terminated ? (c.state.terminated.reason ?? 'Terminated') : 'not ready'}`);
  return `pod ${nsName(p)}: ${why.length ? why.join('; ') : (p.status?.phase ?? 'Pending')}`;
}

type NodeObj = KubeObject & {
  spec?: { podCIDR?: string; taints?: { key: string; effect: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
};

/**
 * Why a node cannot take pods yet, null once it can: registered, given its podCIDR by the node
 * IPAM, Ready, and rid of the not-ready / unreachable taints the node lifecycle controller lifts
 * from a Ready node (kube-scheduler's TaintToleration would pass it over until then).
 */
export function nodeJoinWaiting(n: NodeObj | undefined, name: string): string | null {
  if (!n) return `node ${name}: not registered yet`;
  if (!n.spec?.podCIDR) return `node ${name}: no podCIDR yet`;
  if (n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') return `node ${name}: NotReady`;
  const taint = n.spec.taints?.find((t) => t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable');
  if (taint) return `node ${name}: tainted ${taint.key}:${taint.effect}`;
  return null;
}

/** Nodes not yet as wanted: each named one registered, Ready and schedulable, no other left over. */
export function nodesWaiting(nodes: NodeObj[], want: string[]): string[] {
  const out = want.map((name) => nodeJoinWaiting(nodes.find((x) => x.metadata.name === name), name)).filter((w): w is string => w !== null);
  for (const n of nodes) if (!want.includes(n.metadata.name)) out.push(`node ${n.metadata.name}: leaving the cluster`);
  return out;
}

/**
 * The Deployments the state files declare that the API does not hold yet ("namespace/name"), or
 * holds as something else than the files say (`notApplied` tells why, null when it is the file's):
 * the server applies lab/cluster.yaml once its nodes have joined, so a poll may come before it, and
 * a server restarted after a kill may still hold the objects of before an edit it had not applied.
 */
export function deploymentsMissing(deployments: KubeObject[], want: string[], notApplied?: (d: KubeObject) => string | null): string[] {
  const byName = new Map(deployments.map((d) => [nsName(d), d]));
  return want.flatMap((name) => {
    const d = byName.get(name);
    if (!d) return [`deployment ${name}: not created yet`];
    const why = notApplied?.(d);
    return why ? [`deployment ${name}: ${why}`] : [];
  });
}

export function convergence(deployments: Deployment[], pods: Pod[], nodes: string[] = []): Convergence {
  const waiting = [...nodes, ...deployments.map(rolloutWaiting), ...pods.map(podWaiting)].filter((w): w is string => w !== null);
  const refused = deployments.map(refusedLine).filter((w): w is string => w !== null);
  return { done: waiting.length === 0, waiting, refused };
}

/** How long a refusal must last before `lab up` gives up on it (the ReplicaSet controller retries at once, then backs off). */
export const REFUSED_FOR_MS = 3000;

/**
 * Polls the API until converged (resolves with the last verdict), or the time is up, or every
 * Deployment still missing has been refused for REFUSED_FOR_MS (resolves with what is missing).
 */
export async function waitConverged(client: Client, opts: { timeoutMs: number; everyMs?: number; onProgress?: (c: Convergence) => void; nodes?: string[]; deployments?: string[]; notApplied?: (d: KubeObject) => string | null }): Promise<Convergence> {
  const deadline = Date.now() + opts.timeoutMs;
  let refusedSince: number | null = null;
  for (;;) {
    const [deployments, pods, nodes] = await Promise.all([
      client.list<Deployment>({ group: 'apps', resource: 'deployments' }),
      client.list<Pod>({ group: '', resource: 'pods' }),
      opts.nodes ? client.list<NodeObj>({ group: '', resource: 'nodes' }) : Promise.resolve({ items: [] as NodeObj[] }),
    ]);
    const c = convergence(deployments.items, pods.items, [...(opts.nodes ? nodesWaiting(nodes.items, opts.nodes) : []), ...deploymentsMissing(deployments.items, opts.deployments ?? [], opts.notApplied)]);
    opts.onProgress?.(c);
    // Refused, and nothing else left to wait for: the rest has converged.
    const onlyRefused = c.refused.length > 0 && c.waiting.every((w) => c.refused.includes(w));
    refusedSince = onlyRefused ? (refusedSince ?? Date.now()) : null;
    if (c.done || Date.now() >= deadline || (refusedSince !== null && Date.now() - refusedSince >= REFUSED_FOR_MS)) return c;
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 200));
  }
}
