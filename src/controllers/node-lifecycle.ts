// kube-controller-manager's node lifecycle controller: every 5 s (nodeMonitorPeriod) it looks at
// each node's Lease and Ready heartbeat; a node heard from neither for 40 s
// (nodeMonitorGracePeriod) gets its conditions set to Unknown ("Kubelet stopped posting node
// status.") and the taints node.kubernetes.io/unreachable NoSchedule and NoExecute. Pods on it
// tolerate that taint for 300 s (the DefaultTolerationSeconds admission's default), then are
// deleted ("TaintManagerEviction") and their ReplicaSets make new ones elsewhere. A node heard
// from again loses the taints; the kubelet posts Ready=True itself.
import { rfc3339 } from '../api/server/object.ts';
import type { InformerFactory } from '../client/controller.ts';
import type { Client, KubeObject } from '../client/types.ts';

export const NODE_MONITOR_PERIOD_MS = 5_000;
export const NODE_MONITOR_GRACE_MS = 40_000;
export const DEFAULT_TOLERATION_SECONDS = 300;
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';

export interface Taint {
  key: string;
  effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule';
  value?: string;
  timeAdded?: string;
}

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

const time = rfc3339;

/** When the node was last heard from: the later of its Lease renewal and its Ready heartbeat. */
export function lastHeard(node: NodeObj, lease: LeaseObj | undefined): number {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const times = [lease?.spec?.renewTime, ready?.lastHeartbeatTime, node.metadata.creationTimestamp].map((t) => (t ? Date.parse(t) : 0));
  return Math.max(...times);
}

export interface NodeVerdict {
  /** New conditions to write (status subresource), when they change. */
  conditions?: Condition[];
  /** New taints to write, when they change. */
  taints?: Taint[];
  unreachable: boolean;
}

/** The controller's decision for one node at `now` (pure). */
export function judgeNode(node: NodeObj, lease: LeaseObj | undefined, now: number, graceMs = NODE_MONITOR_GRACE_MS): NodeVerdict {
  const unreachable = now - lastHeard(node, lease) > graceMs;
  const conds = node.status?.conditions ?? [];
  const taints = node.spec?.taints ?? [];
  const v: NodeVerdict = { unreachable };
  const has = (effect: Taint['effect']) => taints.some((t) => t.key === UNREACHABLE_TAINT && t.effect === effect);
  if (unreachable) {
    if (conds.some((c) => c.status !== 'Unknown')) {
      v.conditions = conds.map((c) =>
        c.status === 'Unknown' ? c : { ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: time(now) },
      );
    }
    if (!has('NoSchedule') || !has('NoExecute')) {
      v.taints = [
        ...taints.filter((t) => t.key !== UNREACHABLE_TAINT),
        { key: UNREACHABLE_TAINT, effect: 'NoSchedule', timeAdded: time(now) },
        { key: UNREACHABLE_TAINT, effect: 'NoExecute', timeAdded: time(now) },
      ];
    }
  } else if (has('NoSchedule') || has('NoExecute')) {
    v.taints = taints.filter((t) => t.key !== UNREACHABLE_TAINT);
  }
  return v;
}

interface PodObj extends KubeObject {
  spec: { nodeName?: string; tolerations?: { key?: string; operator?: string; effect?: string; tolerationSeconds?: number }[] };
}

/** How long the pod tolerates the unreachable NoExecute taint (its toleration, else kube's default 300 s). */
export function tolerationSeconds(pod: PodObj): number | undefined {
  const t = pod.spec.tolerations?.find((x) => (x.key === UNREACHABLE_TAINT || (x.operator === 'Exists' && !x.key)) && (!x.effect || x.effect === 'NoExecute'));
  if (!t) return DEFAULT_TOLERATION_SECONDS;
  return t.tolerationSeconds; // undefined: tolerated for ever
}

/** Pods to evict from an unreachable node at `now`: their toleration of its NoExecute taint has run out. */
export function podsToEvict(node: NodeObj, pods: PodObj[], now: number): PodObj[] {
  const taint = node.spec?.taints?.find((t) => t.key === UNREACHABLE_TAINT && t.effect === 'NoExecute');
  if (!taint?.timeAdded) return [];
  const since = Date.parse(taint.timeAdded);
  return pods.filter((p) => {
    if (p.spec.nodeName !== node.metadata.name || p.metadata.deletionTimestamp) return false;
    const s = tolerationSeconds(p);
    return s !== undefined && now - since >= s * 1000;
  });
}

/** Runs the monitor loop on the factory's node, lease and pod informers; returns stop(). */
export function runNodeLifecycle(factory: InformerFactory, client: Client, opts: { now?: () => number; periodMs?: number; log?: (line: string) => void } = {}): () => void {
  const nodes = factory.informer<NodeObj>({ group: '', resource: 'nodes' });
  const leases = factory.informer<LeaseObj>({ group: 'coordination.k8s.io', resource: 'leases' }, { namespace: 'kube-node-lease' });
  const pods = factory.informer<PodObj>({ group: '', resource: 'pods' });
  const now = opts.now ?? Date.now;
  let busy = false;
  const monitor = async () => {
    if (busy || !nodes.hasSynced() || !leases.hasSynced()) return;
    busy = true;
    try {
      for (const node of nodes.list()) {
        const name = node.metadata.name;
        const v = judgeNode(node, leases.get(`kube-node-lease/${name}`), now());
        if (v.conditions) {
          opts.log?.(`node-lifecycle: node ${name} unreachable: conditions set to Unknown`);
          await client.mutate<NodeObj>({ group: '', resource: 'nodes' }, undefined, name, (n) => ({ ...n, status: { ...n.status, conditions: v.conditions } }), { subresource: 'status' });
        }
        if (v.taints) await client.mutate<NodeObj>({ group: '', resource: 'nodes' }, undefined, name, (n) => ({ ...n, spec: { ...n.spec, taints: v.taints!.length ? v.taints : undefined } }));
        if (v.unreachable) {
          for (const p of podsToEvict(node, pods.list(), now())) {
            opts.log?.(`node-lifecycle: evicting pod ${p.metadata.namespace}/${p.metadata.name} from unreachable node ${name}`);
            await client.delete({ group: '', resource: 'pods' }, p.metadata.namespace, p.metadata.name);
          }
        }
      }
    } catch (e) {
      opts.log?.(`node-lifecycle: ${(e as Error).message}`);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void monitor(), opts.periodMs ?? NODE_MONITOR_PERIOD_MS);
  timer.unref();
  return () => clearInterval(timer);
}
